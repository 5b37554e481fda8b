package client_test

import (
	"encoding/json"
	"io"
)

func jsonDecode(r io.ReadCloser, v any) error {
	defer r.Close()
	return json.NewDecoder(r).Decode(v)
}
