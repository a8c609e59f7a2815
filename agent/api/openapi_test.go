package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
)

// openapi is the parts of the embedded document these tests read.
type openapi struct {
	Components struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				MaxLength *int `json:"maxLength"`
				Minimum   *int `json:"minimum"`
			} `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

// documentedCodes are the error codes the OpenAPI document lists.
func documentedCodes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
}

// DocumentedCodes is documentedCodes for the package's external tests.
var DocumentedCodes = documentedCodes

func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	enum := documentedCodes(t)
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.HasPrefix(vs.Names[0].Name, "code") {
			s, _ := strconv.Unquote(lit.Value)
			codes = append(codes, s)
		}
		return true
	})
	if len(codes) < 10 {
		t.Fatalf("found %d codes in errors.go; the test no longer reads it", len(codes))
	}
	codes = append(codes, agent.RefusalCodes()...)
	for _, c := range codes {
		if !slices.Contains(enum, c) {
			t.Errorf("error code %q is not in the OpenAPI document", c)
		}
	}
	for _, c := range enum {
		if !slices.Contains(codes, c) {
			t.Errorf("the OpenAPI document lists %q, which the API never answers", c)
		}
	}
}

func TestOpenAPIBoundsAreTheValidatorsBounds(t *testing.T) {
	var doc openapi
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]int{
		"Identity.name":        agent.MaxNameLen,
		"Identity.id_no":       agent.MaxIDNoLen,
		"Identity.cert_no":     agent.MaxCodeTextLen,
		"Identity.card_sn":     agent.CardSNLen,
		"Identity.card_reader": agent.MaxReaderLen,
		"Identity.scan":        agent.MaxScanLen,
		"Operator.id":          agent.MaxOperatorIDLen,
		"Operator.name":        agent.MaxOperatorNameLen,
		"Bill.visit_no":        agent.MaxVisitNoLen,
		"Bill.dept_code":       agent.MaxDeptCodeLen,
		"Bill.dept_name":       agent.MaxDeptNameLen,
		"Bill.doctor_id":       agent.MaxDoctorIDLen,
		"Bill.doctor_name":     agent.MaxDoctorNameLen,
		"FeeItem.code":         agent.MaxItemCodeLen,
		"FeeItem.hosp_code":    agent.MaxItemCodeLen,
		"FeeItem.name":         agent.MaxItemNameLen,
		"RefundBody.reason":    agent.MaxReasonLen,
	} {
		schema, prop, _ := strings.Cut(field, ".")
		got := doc.Components.Schemas[schema].Properties[prop].MaxLength
		if got == nil || *got != want {
			t.Errorf("%s: maxLength %v in the OpenAPI document; the validator's bound is %d", field, got, want)
		}
	}
	if m := doc.Components.Schemas["FeeItem"].Properties["unit_price_fen"].Minimum; m == nil || *m != 1 {
		t.Errorf("FeeItem.unit_price_fen: minimum %v; want 1", m)
	}
}
