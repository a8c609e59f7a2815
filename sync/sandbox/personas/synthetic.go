package personas

import (
	"fmt"
	"time"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Synthetic is a data set of n employees (310) for load and benchmarks,
// each with a social-security card and a signed bank card with ample
// funds (paychannel.SyntheticData is the payment channel's side), under
// the built-in data set's policy and institutions.
func Synthetic(n int) (*Dataset, error) {
	def, err := Default()
	if err != nil {
		return nil, err
	}
	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平")
	born := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	people := make([]Person, n)
	for i := range people {
		birth := born.AddDate(0, 0, (i*37)%14000) // 1960 to 1998
		first17 := fmt.Sprintf("441900%s%03d", birth.Format("20060102"), i%1000)
		check, err := idno.CheckChar(first17)
		if err != nil {
			return nil, err
		}
		gender := "2"
		if (first17[16]-'0')%2 == 1 {
			gender = "1"
		}
		people[i] = Person{
			Key:   fmt.Sprintf("bench-%04d", i),
			About: "Synthetic employee for the offline benchmarks: a bank card pays every bill.",
			PsnNo: fmt.Sprintf("44190090%012d", i), Certno: first17 + string(check),
			Name:   string([]rune{surnames[i%len(surnames)], given[(i/len(surnames))%len(given)], given[(i/7)%len(given)]}),
			Gender: gender, BirthDate: birth.Format(protocol.DateLayout), Nation: "01",
			Insutype: protocol.InsutypeEmployee, PsnType: "11", InsuplcAdmdvs: "441900", PsnInsuStas: "1",
			Agreement: &Agreement{
				Sources:  []string{protocol.SourceBank},
				BankCard: &BankCard{Bank: "中国银行", Last4: fmt.Sprintf("%04d", i%10000), Balance: money.Decimal(money.CNY(1_000_000))},
			},
			Card: &Card{
				CardNo: fmt.Sprintf("B%08d", i), CardSn: fmt.Sprintf("441900D156000005%016X", 0xBE00000000000000+uint64(i)),
				Version: "2.00", IssueDate: "2020-01-01", ExpiryDate: "2035-12-31", Status: CardNormal,
			},
		}
	}
	d := Dataset{Version: Version, Platform: Platform{Name: def.Platform.Name, Region: def.Platform.Region},
		Policy: def.Policy, Institutions: def.Institutions, People: people}
	raw, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}
