package paychannel

import (
	"encoding/json"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// SyntheticData is the payment channel's side of personas.Synthetic:
// every person signed a bank card with ample funds, the account not
// first, under the built-in rollout's limits.
func SyntheticData(data *personas.Dataset) (*Data, error) {
	def, err := DefaultData()
	if err != nil {
		return nil, err
	}
	d := Data{Version: DataVersion, About: "Synthetic agreements for the offline benchmarks.",
		Rollout: def.Rollout, Signed: def.Signed, Patients: map[string]Patient{}}
	for i, p := range data.People {
		d.Patients[p.Certno] = Patient{Persona: p.Key, Sources: []Source{{
			Kind: agent.SourceBankCard, Bank: "中国银行", Masked: fmt.Sprintf("6216 **** %04d", i%10000), Balance: money.CNY(1_000_000)}}}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return ParseData(raw, data)
}
