package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// maxAnswerBytes bounds what the client reads from one answer: a pulled
// page is at most protocol.MaxPullMaxBytes plus one change.
const maxAnswerBytes = 2 * protocol.MaxPullMaxBytes

// post sends body as JSON to path with the sync headers and decodes a 200
// answer into out. A non-2xx answer is returned as *protocol.Error; a
// revoked device is wiped first and the error wraps ErrDeviceRevoked.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("client: encode %s request: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c.tokenMu.RLock()
	req.Header.Set("Authorization", c.token)
	c.tokenMu.RUnlock()
	req.Header.Set(protocol.HeaderProtocol, strconv.Itoa(c.cfg.Protocol))
	req.Header.Set(protocol.HeaderSchema, strconv.Itoa(c.cfg.Schema))
	req.Header.Set(protocol.HeaderDevice, c.device)
	if c.cfg.AppVersion != "" {
		req.Header.Set(protocol.HeaderAppVersion, c.cfg.AppVersion)
	}
	// Go's transport asks for gzip and unpacks it itself when no
	// Accept-Encoding is set here; pulled pages arrive compressed.
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s: %w", path, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		// A cut connection mid-answer: nothing was stored locally, retry.
		return fmt.Errorf("client: read %s answer: %w", path, err)
	}
	if res.StatusCode/100 != 2 {
		perr := &protocol.Error{}
		if json.Unmarshal(answer, perr) != nil || perr.Code == "" {
			perr = &protocol.Error{Code: "http_" + strconv.Itoa(res.StatusCode), Message: string(truncate(answer, 300))}
		}
		perr.Status = res.StatusCode
		if perr.Code == protocol.CodeDeviceRevoked {
			if werr := c.Wipe(context.WithoutCancel(ctx)); werr != nil {
				return fmt.Errorf("%w (%v), but erasing failed: %v", ErrDeviceRevoked, perr, werr)
			}
			return fmt.Errorf("%w: %w", ErrDeviceRevoked, perr)
		}
		return perr
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("client: %s answer is not the expected JSON: %w", path, err)
	}
	return nil
}

// ProtocolError returns the server's refusal inside err, if there is one.
func ProtocolError(err error) (*protocol.Error, bool) {
	var pe *protocol.Error
	ok := errors.As(err, &pe)
	return pe, ok
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
