// Package api is Warren's REST API: routing (chi), authentication (team API keys and
// user sessions) and authorization, request validation, the mapping of errors to
// HTTP answers, and the OpenAPI document. Handlers hold no business logic: they
// validate, authorize and call the store or the node's services.
//
// Every error answer has the shape
//
//	{"error": {"code": "...", "message": "...", "field": "..."}, "request_id": "..."}
//
// and never carries internal details: those are logged with the request ID.
package api
