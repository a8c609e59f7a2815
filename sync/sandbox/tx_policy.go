package sandbox

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/emmansun/gmsm/sm3"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// E002: the outpatient policy, for a terminal to estimate a split while
// the platform is unreachable.
func policyParams(c *call, in *protocol.PolicyInput) (any, error) {
	pol := c.p.data.Policy
	want := in.Data.Insutype
	if _, ok := pol.Insurance[want]; want != "" && !ok {
		return nil, refuse(protocol.CodeBadRequest, "unknown insutype %q", want)
	}
	out := protocol.Policy{
		Version:          c.p.policyVersion,
		Insurance:        []protocol.InsurancePolicy{},
		ClassBSelfPayPct: pol.ClassBSelfPayPct,
		LimitPerTxn:      protocol.Amount(pol.LimitPerTxn),
		LimitDaily:       protocol.Amount(pol.LimitDaily),
	}
	for t, ins := range pol.Insurance {
		if want != "" && t != want {
			continue
		}
		out.Insurance = append(out.Insurance, protocol.InsurancePolicy{
			Insutype: t, Deductible: protocol.Amount(ins.Deductible), RatioPct: ins.RatioPct, YearCap: protocol.Amount(ins.YearCap),
		})
	}
	slices.SortFunc(out.Insurance, func(a, b protocol.InsurancePolicy) int {
		return cmp.Compare(a.Insutype, b.Insutype)
	})
	return protocol.PolicyOutput{Data: out}, nil
}

// policyVersionOf names a policy by the first 12 hex digits of the SM3 of
// its JSON form: any change of a number changes the version, and the same
// policy always has the same one, across restarts and machines. (JSON
// writes map keys in order, so the form is canonical.)
func policyVersionOf(p personas.Policy) string {
	raw, err := json.Marshal(p)
	if err != nil {
		// A parsed policy always encodes; an empty version would make
		// every terminal refetch, which is the safe failure.
		return ""
	}
	sum := sm3.Sum(raw)
	return hex.EncodeToString(sum[:6])
}
