package sandbox

import (
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The platform's catalogue (医保目录): the class of an item is the
// catalogue's, looked up by its national code (med_list_codg), never the
// HIS's. A real catalogue holds hundreds of thousands of entries; this one
// holds a dozen, one or more per class and kind, with codes in the shape
// of the national ones (invented: no real code).
//
// A code the catalogue lacks is class A: the sandbox is lenient so that
// demos and tests may bill anything, where a province would refuse it. An
// old client that still sends chrgitm_lv (the sandbox-only extension of
// the old core) gets its own class for such a code; for a catalogued one
// the catalogue always wins.

// CatalogueItem is one catalogue entry.
type CatalogueItem struct {
	Code  string // med_list_codg
	Name  string
	Class string // chrgitm_lv
	// Kind is med_chrgitm_type: 09 western medicine, 10 Chinese patent
	// medicine, 02 examination, 03 treatment, 08 material.
	Kind string
	// PriceCap is the catalogue's price limit (pric_uplmt_amt), 0 for none.
	PriceCap money.Price
}

// Catalogue is the sandbox's catalogue, in code order.
var Catalogue = []CatalogueItem{
	{Code: "XA02BCA052A001010104463", Name: "奥美拉唑肠溶胶囊", Class: protocol.ClassA, Kind: "09"},
	{Code: "XJ01CRA076E001010102567", Name: "阿莫西林克拉维酸钾片", Class: protocol.ClassA, Kind: "09"},
	{Code: "XN02BEA005A001020101834", Name: "对乙酰氨基酚片", Class: protocol.ClassA, Kind: "09"},
	{Code: "XR05CBS091B002010203345", Name: "复方甘草口服溶液", Class: protocol.ClassB, Kind: "09"},
	{Code: "XC10AAA056A001010102241", Name: "阿托伐他汀钙片", Class: protocol.ClassB, Kind: "09"},
	{Code: "ZA04AAL0101010104321", Name: "连花清瘟胶囊", Class: protocol.ClassB, Kind: "10"},
	{Code: "ZB01AAX0156010103376", Name: "某品牌保健冲剂", Class: protocol.ClassC, Kind: "10"},
	{Code: "001102000010000", Name: "门诊诊查费", Class: protocol.ClassA, Kind: "03"},
	{Code: "002502010010000", Name: "血常规检查", Class: protocol.ClassA, Kind: "02"},
	{Code: "002701000010000", Name: "胸部X线摄影", Class: protocol.ClassB, Kind: "02"},
	{Code: "003108000010000", Name: "美容整形咨询", Class: protocol.ClassC, Kind: "03"},
	{Code: "C14020100100100000001", Name: "一次性输液器", Class: protocol.ClassB, Kind: "08", PriceCap: money.PriceOfFen(800)},
}

// CatalogueCode returns the first catalogue code of a class, for tests and
// demos that need an item of that class.
func CatalogueCode(class string) string {
	for _, it := range Catalogue {
		if it.Class == class {
			return it.Code
		}
	}
	return ""
}

var catalogue = func() map[string]CatalogueItem {
	m := make(map[string]CatalogueItem, len(Catalogue))
	for _, it := range Catalogue {
		m[it.Code] = it
	}
	return m
}()

// classOf is the class of an item: the catalogue's, else the legacy class
// the old core sent, else class A.
func classOf(code, legacy string) (CatalogueItem, bool) {
	if it, ok := catalogue[code]; ok {
		return it, true
	}
	class := legacy
	if class == "" {
		class = protocol.ClassA
	}
	return CatalogueItem{Code: code, Class: class, Kind: "09"}, false
}
