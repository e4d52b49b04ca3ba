package web

import (
	"net/http"
	"sync"
)

// The OpenAPI 3 document of the JSON API. It is written next to the route table, and a
// test holds the two to each other (every route documented, every documented path routed).

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonBody(schema obj) obj {
	return obj{"content": obj{"application/json": obj{"schema": schema}}}
}

func respJSON(desc string, schema obj) obj {
	r := jsonBody(schema)
	r["description"] = desc
	return r
}

func respError(desc string) obj { return respJSON(desc, ref("Error")) }

func respCSV(desc string) obj {
	return obj{"description": desc, "content": obj{"text/csv": obj{"schema": obj{"type": "string"}}}}
}

var idParam = obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string"}}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

func str() obj     { return obj{"type": "string"} }
func integer() obj { return obj{"type": "integer"} }

var (
	openapiOnce sync.Once
	openapiDoc  obj
)

func openAPIDocument() obj {
	openapiOnce.Do(func() { openapiDoc = buildOpenAPI() })
	return openapiDoc
}

func buildOpenAPI() obj {
	std := func(ok obj, extra obj) obj {
		r := obj{
			"401": respError("No token, or an unknown or revoked one"),
			"404": respError("Not found in the token's organization"),
		}
		for k, v := range ok {
			r[k] = v
		}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	rowError := obj{"type": "object", "required": []string{"row", "column", "code", "value", "message"}, "properties": obj{
		"row": integer(), "column": str(), "code": str(), "value": str(), "message": str(),
	}}
	report := obj{"type": "object", "required": []string{"file", "columns", "rows", "valid", "summary", "error_count", "errors", "warnings", "committed"},
		"properties": obj{
			"id": str(),
			"file": obj{"type": "object", "properties": obj{
				"name": str(), "sha256": str(), "format": obj{"type": "string", "enum": []string{"csv", "xlsx"}},
				"encoding": str(), "delimiter": str(), "size": integer(),
			}},
			"columns":       obj{"type": "object", "additionalProperties": str(), "description": "canonical column -> header as written"},
			"rows":          integer(),
			"valid":         obj{"type": "boolean"},
			"summary":       obj{"type": "object", "properties": obj{"new": integer(), "updated": integer(), "unchanged": integer()}},
			"error_count":   integer(),
			"error_codes":   obj{"type": "object", "additionalProperties": integer()},
			"errors":        obj{"type": "array", "items": ref("RowError"), "description": "the first 1,000; the full list is at errors.csv"},
			"warning_count": integer(),
			"warnings":      obj{"type": "array", "items": ref("RowError")},
			"committed":     obj{"type": "boolean"},
			"batch_id":      str(),
		}}
	learner := obj{"type": "object", "properties": obj{
		"id": str(), "employee_email": str(), "first_name": str(), "last_name": str(),
		"employee_id": str(), "job_title": str(), "department": str(), "location": str(),
		"manager_email": str(), "timezone": str(), "membership_active": obj{"type": "boolean"},
		"status":     obj{"type": "string", "enum": []string{"active", "inactive"}},
		"created_at": obj{"type": "string", "format": "date-time"}, "updated_at": obj{"type": "string", "format": "date-time"},
		"created_batch_id": str(), "updated_batch_id": str(),
	}}
	batch := obj{"type": "object", "properties": obj{
		"id": str(), "created_by": str(), "created_at": obj{"type": "string", "format": "date-time"},
		"file_name": str(), "sha256": str(), "format": str(), "rows": integer(),
		"new": integer(), "updated": integer(), "unchanged": integer(),
	}}
	errSchema := obj{"type": "object", "required": []string{"error"}, "properties": obj{
		"error": obj{"type": "object", "required": []string{"code", "message"}, "properties": obj{
			"code":    obj{"type": "string", "description": "stable: invalid, not_found, conflict, stale, forbidden, internal, unauthorized, too_large, unsupported_media_type, method_not_allowed"},
			"message": str(),
		}},
	}}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "Roster API",
			"version":     "1",
			"description": "Import and read an organization's learners. Every request carries an organization's API token as 'Authorization: Bearer TOKEN'; admins create and revoke tokens in Settings.",
		},
		"servers":  []obj{{"url": "/"}},
		"security": []obj{{"bearer": []string{}}},
		"paths": obj{
			"/api/v1/openapi.json": obj{"get": obj{
				"summary": "This document", "security": []obj{},
				"responses": obj{"200": respJSON("The OpenAPI document", obj{"type": "object"})},
			}},
			"/api/v1/template.csv": obj{"get": obj{
				"summary":   "The CSV template: the header row of every column",
				"responses": std(obj{"200": respCSV("The template")}, nil),
			}},
			"/api/v1/uploads": obj{"post": obj{
				"summary": "Upload a learner file (CSV or XLSX) and validate it; nothing is written",
				"requestBody": obj{"required": true, "content": obj{"multipart/form-data": obj{"schema": obj{
					"type": "object", "required": []string{"file"},
					"properties": obj{"file": obj{"type": "string", "format": "binary"}},
				}}}},
				"responses": std(obj{"201": respJSON("The report, with the upload's id", ref("Report"))}, obj{
					"400": respError("No file, or a truncated body"),
					"413": respError("The file is larger than the server accepts"),
					"415": respError("Not multipart/form-data"),
				}),
			}},
			"/api/v1/uploads/{id}": obj{"get": obj{
				"summary": "The report of an upload", "parameters": []obj{idParam},
				"responses": std(obj{"200": respJSON("The report", ref("Report"))}, nil),
			}},
			"/api/v1/uploads/{id}/errors.csv": obj{"get": obj{
				"summary": "Every error of an upload, as CSV (row, column, code, value, message)", "parameters": []obj{idParam},
				"responses": std(obj{"200": respCSV("The errors")}, nil),
			}},
			"/api/v1/uploads/{id}/commit": obj{"post": obj{
				"summary":     "Write a valid upload's learners, all or nothing. Committing twice writes once.",
				"parameters":  []obj{idParam},
				"requestBody": obj{"required": false, "content": obj{"application/json": obj{"schema": obj{"type": "object", "properties": obj{"sha256": obj{"type": "string", "description": "refuse the commit unless the upload's file has this SHA-256"}}}}}},
				"responses": std(obj{"200": respJSON("The report, committed", ref("Report"))}, obj{
					"400": respError("A body that is not valid JSON"),
					"409": respError("The file has errors (code conflict), or the learners changed since it was validated (code stale: it has been validated again; read the report and commit again)"),
					"415": respError("A body that is not application/json"),
				}),
			}},
			"/api/v1/learners": obj{"get": obj{
				"summary": "A page of learners",
				"parameters": []obj{
					queryParam("q", "every word appears in the first name, last name or email, case and accents aside", str()),
					queryParam("department", "exact department", str()),
					queryParam("location", "exact location", str()),
					queryParam("status", "active or inactive", obj{"type": "string", "enum": []string{"active", "inactive"}}),
					queryParam("batch", "an import batch ID: the learners whose latest change came from it", str()),
					queryParam("sort", "sort key", obj{"type": "string", "enum": []string{"name", "email", "created", "department", "location"}}),
					queryParam("order", "sort order", obj{"type": "string", "enum": []string{"asc", "desc"}}),
					queryParam("limit", "page size", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}),
					queryParam("cursor", "next_cursor or prev_cursor of a page: the page after it or before it", str()),
				},
				"responses": std(obj{"200": respJSON("A page", obj{"type": "object", "required": []string{"learners", "next_cursor", "prev_cursor"}, "properties": obj{
					"learners":    obj{"type": "array", "items": ref("Learner")},
					"next_cursor": obj{"type": "string", "nullable": true, "description": "the page after this one; null on the last page"},
					"prev_cursor": obj{"type": "string", "nullable": true, "description": "the page before this one; null on the first page"},
				}})}, obj{"400": respError("A bad parameter")}),
			}},
			"/api/v1/learners/{id}": obj{"get": obj{
				"summary": "One learner", "parameters": []obj{idParam},
				"responses": std(obj{"200": respJSON("The learner", ref("Learner"))}, nil),
			}},
			"/api/v1/imports": obj{"get": obj{
				"summary":    "Import batches, newest first",
				"parameters": []obj{queryParam("limit", "how many", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})},
				"responses": std(obj{"200": respJSON("The batches", obj{"type": "object", "properties": obj{
					"imports": obj{"type": "array", "items": ref("ImportBatch")},
				}})}, obj{"400": respError("A bad parameter")}),
			}},
			"/api/v1/imports/{id}": obj{"get": obj{
				"summary": "One import batch", "parameters": []obj{idParam},
				"responses": std(obj{"200": respJSON("The batch", ref("ImportBatch"))}, nil),
			}},
		},
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
			"schemas": obj{
				"Error": errSchema, "RowError": rowError, "Report": report,
				"Learner": learner, "ImportBatch": batch,
			},
		},
	}
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, openAPIDocument())
	return nil
}
