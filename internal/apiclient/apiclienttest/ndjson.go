package apiclienttest

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// ReplyLines answers with a stream of newline-delimited JSON values (application/x-ndjson),
// one line each, then ends the stream; a nil value is an empty line (a keep-alive).
func (st *Stub) ReplyLines(values ...any) *Stub {
	var b bytes.Buffer
	for _, v := range values {
		if v != nil {
			data, err := json.Marshal(v)
			if err != nil {
				st.t.Fatalf("apiclienttest: %s: line %#v: %v", st, v, err)
			}
			b.Write(data)
		}
		b.WriteByte('\n')
	}
	st.status, st.contentType, st.reply = http.StatusOK, "application/x-ndjson", b.Bytes()
	return st
}
