package seal

import "io"

// EncryptStreamChunk is EncryptStream with chunks of size bytes, so that tests and fuzzing
// cover many chunks in little data.
func (k *Key) EncryptStreamChunk(dst io.Writer, aad []byte, size int) io.WriteCloser {
	return k.encryptStream(dst, aad, size)
}
