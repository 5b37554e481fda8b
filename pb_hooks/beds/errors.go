package beds

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Machine-readable codes of the bed rules. Devices and agency systems switch
// on these; the messages are for people.
const (
	CodeAvailabilityNegative = "beds_availability_negative"
	CodeServerOwnedField     = "beds_field_server_owned"
	CodeHoldTransition       = "beds_hold_transition_invalid"
	CodeHoldImmutable        = "beds_hold_field_immutable"
	CodeHoldForbidden        = "beds_hold_change_forbidden"
	CodeHoldStatusOnCreate   = "beds_hold_status_server_decided"
	CodeCountsInvalid        = "beds_counts_invalid"
	CodeNotFound             = "beds_not_found"
	CodeForbidden            = "beds_forbidden"
	CodeUnauthorized         = "beds_unauthorized"
	CodeBadRequest           = "beds_bad_request"
)

// RuleError is a refused bed change. It unwraps to a *router.ApiError, so the
// records API answers with its status and message whichever hook raised it;
// the sync engine can errors.As it to report Code per mutation.
type RuleError struct {
	Status  int            // HTTP status: 422 for a broken rule, 403, 404, 400
	Code    string         // machine-readable, one of the Code* constants or agencytoken's codes
	Message string         // a sentence an outreach worker or agency clerk understands
	Details map[string]any // numbers behind the refusal, for clients
	api     *router.ApiError
}

func (e *RuleError) Error() string { return e.Message }

// Unwrap exposes the PocketBase API error so PocketBase's handlers keep the
// status instead of answering a generic 400.
func (e *RuleError) Unwrap() error { return e.api }

// Body is the JSON answer: PocketBase's error shape plus a top-level code.
func (e *RuleError) Body() map[string]any {
	data := map[string]any{"code": e.Code}
	for k, v := range e.Details {
		data[k] = v
	}
	return map[string]any{"status": e.Status, "code": e.Code, "message": e.Message, "data": data}
}

func ruleErr(status int, code, message string, details map[string]any) *RuleError {
	e := &RuleError{Status: status, Code: code, Message: message, Details: details}
	data := map[string]any{"code": code}
	for k, v := range details {
		data[k] = v
	}
	e.api = &router.ApiError{Status: status, Message: message, Data: data}
	return e
}

func unprocessable(code, message string, details map[string]any) *RuleError {
	return ruleErr(http.StatusUnprocessableEntity, code, message, details)
}

// AsRuleError returns the bed rule behind err, if any.
func AsRuleError(err error) (*RuleError, bool) {
	var re *RuleError
	ok := errors.As(err, &re)
	return re, ok
}

// answerRuleError writes a RuleError as the response (with a top-level code);
// other errors pass through to PocketBase's error handler.
func answerRuleError(e *core.RequestEvent, err error) error {
	if re, ok := AsRuleError(err); ok {
		return e.JSON(re.Status, re.Body())
	}
	// PocketBase's record handlers unwrap errors to the inner ApiError
	// before returning them; a bed rule is recognised by its data code.
	var api *router.ApiError
	if errors.As(err, &api) {
		if code, ok := api.Data["code"].(string); ok && code != "" {
			return e.JSON(api.Status, map[string]any{"status": api.Status, "code": code, "message": api.Message, "data": api.Data})
		}
	}
	return err
}
