package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
)

// validator is implemented by request bodies that check themselves after decoding.
type validator interface{ validate() error }

// decode reads one JSON object from the body into v, refusing unknown fields,
// trailing data and bodies over the limit, with errors that name the field; then
// runs v's own validation.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge(mbe.Limit)
		}
		return errInvalid("", "reading the request body: %v", err)
	}
	// A literal null decodes into a struct as nothing at all; a route whose
	// fields are all optional would then take it for a real request.
	if t := bytes.TrimSpace(body); len(t) == 0 || string(t) == "null" {
		return errInvalid("", "a JSON object body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errInvalid("", "unexpected data after the JSON object")
	}
	if val, ok := v.(validator); ok {
		return val.validate()
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errInvalid("", "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errInvalid("", "the body must be a JSON object")
		}
		return errInvalid(typ.Field, "must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errInvalid("", "truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errInvalid(name, "unknown field")
	}
	// Errors from UnmarshalText (e.g. a malformed ID) carry their own message.
	return errInvalid("", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a number"
}

// checkText validates a user-supplied string: length in runes and no control
// characters (tab excluded) or invalid UTF-8.
func checkText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return errInvalid(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		if min == 1 {
			return errInvalid(field, "is required")
		}
		return errInvalid(field, "must be at least %d characters", min)
	}
	if n > max {
		return errInvalid(field, "must be at most %d characters", max)
	}
	for _, r := range s {
		if r == 0 || (r < 0x20 && r != '\t' && !(multiline && (r == '\n' || r == '\r'))) || r == 0x7f {
			return errInvalid(field, "must not contain control characters")
		}
	}
	return nil
}

// checkRange validates an integer field.
func checkRange(field string, v, min, max int64) error {
	if v < min || v > max {
		return errInvalid(field, "must be between %d and %d, got %d", min, max, v)
	}
	return nil
}

func fmtField(parent string, i int, child string) string {
	return fmt.Sprintf("%s[%d]%s", parent, i, child)
}

// pathID parses the path parameter name with parse, answering 400 naming the
// parameter when it is malformed.
func pathID[T interface{ Kind() id.Kind }](r *http.Request, name string, parse func(string) (T, error)) (T, error) {
	v, err := parse(chi.URLParam(r, name))
	if err != nil {
		k := v.Kind()
		return v, errInvalid(name, "must be a %s id (%s<uuid>)", k.Name, k.Prefix)
	}
	return v, nil
}
