package backup

// WritePart and ReadPart are how the engine stores and reads parts, for the tests of
// their bytes.
var (
	WritePart = writePart
	ReadPart  = readPart
)
