package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every request body; manifests are the largest thing clients send.
const maxBody = 1 << 20

// decode reads a JSON body into v strictly: the right content type, no unknown fields, one
// value, at most maxBody bytes. Its errors are 4xx for the client, naming the field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be JSON (Content-Type: application/json), not %q", r.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return jsonError(err)
	}
	if err := checkJSON(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "malformed_json", "request body must hold a single JSON value")
	}
	return nil
}

// checkJSON refuses what encoding/json would quietly accept: bytes that are not UTF-8
// (it turns them into U+FFFD) and an object with a key twice (the last one wins), which
// the manifest's YAML refuses too.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return errorf(http.StatusBadRequest, "malformed_json", "request body is not valid UTF-8 (at byte %d)", off)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value func(path string) error
	value = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jsonError(err)
				}
				key, _ := k.(string)
				field := strings.TrimPrefix(path+"."+key, ".")
				if seen[key] {
					return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Field: field,
						Message: "field " + field + " appears twice"}
				}
				seen[key] = true
				if err := value(field); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := value(path + "[" + strconv.Itoa(i) + "]"); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		if err != nil {
			return jsonError(err)
		}
		return nil
	}
	return value("")
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "malformed_json", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: typ.Field,
			Message: "field " + typ.Field + " must be " + typ.Type.String() + ", not " + typ.Value}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "malformed_json", "request body is empty or cut short")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: field, Message: "unknown field " + field}
	}
	return errorf(http.StatusBadRequest, "malformed_json", "%v", err)
}
