package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// The national e-voucher component (医保电子凭证), played by the sandbox.
// On a real terminal it is a vendor library (EcQuery in the vendor's DLL,
// or NationEcTrans against a local service): the terminal hands it the
// request, it reads the patient's code, asks the national platform, and
// answers the holder and an ecToken, which 1101 then carries as
// mdtrt_cert_no with mdtrt_cert_type 01. Here it is an HTTP endpoint
// (ECQueryPath, the path of the local service some clients call) that
// resolves the national-style code a persona's opaque phone shows; the
// code travels in data.ecQrCode, since the sandbox has no scanner of its
// own to read it.

// ecTokenLife is how long an ecToken identifies its holder: long enough
// for a visit from registration to settlement.
const ecTokenLife = 2 * time.Hour

// ecTokenShape is the shape real tokens have: the issuing region, "ec",
// and about thirty lowercase hex digits.
var ecTokenShape = regexp.MustCompile(`^[0-9]{6}ec[0-9a-f]{30}$`)

// ECRequest is the e-voucher component's request (ec.query).
type ECRequest struct {
	OrgID     string `json:"orgId"`
	TransType string `json:"transType"`
	Data      ECData `json:"data"`
	Extra     string `json:"extra,omitempty"`
}

// ECData is the request's data node.
type ECData struct {
	OrgID        string `json:"orgId"`
	BusinessType string `json:"businessType"`
	OperatorID   string `json:"operatorId"`
	OperatorName string `json:"operatorName"`
	OfficeID     string `json:"officeId"`
	OfficeName   string `json:"officeName"`
	DeviceType   string `json:"deviceType,omitempty"` // SelfService at a kiosk
	EcQrCode     string `json:"ecQrCode,omitempty"`
}

// ECAnswer is the component's answer: code 0 and the holder, or the
// reason in message.
type ECAnswer struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	OrgID   string  `json:"orgId"`
	Data    *ECUser `json:"data"`
}

// ECUser is the holder of a code.
type ECUser struct {
	EcToken   string `json:"ecToken"`
	IDNo      string `json:"idNo"`
	IDType    string `json:"idType"`
	UserName  string `json:"userName"`
	InsuOrg   string `json:"insuOrg"`
	EcIndexNo string `json:"ecIndexNo"`
	Gender    string `json:"gender"`
	Birthday  string `json:"birthday"`
}

// The e-voucher business types (businessType) the component accepts.
var ecBusinessTypes = map[string]bool{
	"01101": true, "01102": true, "01103": true, "01104": true, "01201": true, "01202": true,
	"01203": true, "01204": true, "01301": true, "01302": true, "02121": true, "02122": true,
}

type ecTokenRecord struct {
	PsnNo   string    `json:"psn_no"`
	Org     string    `json:"org"`
	Expires time.Time `json:"expires"`
}

func (p *Platform) serveECQuery(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<10))
	var req ECRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusOK, ECAnswer{Code: 1, Message: "入参格式错误: the request is not JSON"})
		return
	}
	writeJSON(w, http.StatusOK, p.ecQuery(req))
}

// ecQuery resolves a code into its holder and a new ecToken. A code is
// used once: the component's answer is the only use.
func (p *Platform) ecQuery(req ECRequest) ECAnswer {
	fail := func(format string, args ...any) ECAnswer {
		return ECAnswer{Code: 1, Message: fmt.Sprintf(format, args...), OrgID: req.OrgID}
	}
	d := req.Data
	switch {
	case req.TransType != "ec.query":
		return fail("不支持的交易类型 %q", req.TransType)
	case req.OrgID == "" || d.OrgID != req.OrgID:
		return fail("机构编码为空或不一致")
	case !ecBusinessTypes[d.BusinessType]:
		return fail("用码业务类型 %q 无效", d.BusinessType)
	case d.OperatorID == "" || d.OperatorName == "":
		return fail("操作员信息不能为空")
	case d.DeviceType != "" && d.DeviceType != "SelfService":
		return fail("设备类型 %q 无效", d.DeviceType)
	case strings.TrimSpace(d.EcQrCode) == "":
		return fail("未读取到医保电子凭证二维码")
	}
	if _, ok := p.data.Institution(req.OrgID); !ok {
		return fail("定点医药机构 %q 不存在", req.OrgID)
	}
	var out ECAnswer
	err := p.db.Update(func(tx *bolt.Tx) error {
		now := p.clock.Now()
		var o opaqueRecord
		found, err := getJSON(tx, bucketOpaque, []byte(d.EcQrCode), &o)
		if err != nil {
			return err
		}
		switch {
		case !found:
			out = fail("电子凭证二维码无效，请刷新后重试")
			return nil
		case !now.Before(o.Expires):
			out = fail("电子凭证二维码已过期，请刷新后重试")
			return nil
		case o.UsedBy != "":
			out = fail("电子凭证二维码已使用，请刷新后重试")
			return nil
		}
		person, ok := p.data.ByPsnNo(o.PsnNo)
		if !ok {
			return fmt.Errorf("%w: code of an unknown psn_no", ErrState)
		}
		token, err := newECToken(person.InsuplcAdmdvs)
		if err != nil {
			return err
		}
		o.UsedBy = "ec.query " + token[:8]
		if err := putJSON(tx, bucketOpaque, []byte(d.EcQrCode), &o); err != nil {
			return err
		}
		rec := ecTokenRecord{PsnNo: person.PsnNo, Org: req.OrgID, Expires: now.Add(ecTokenLife)}
		if err := putJSON(tx, bucketECTokens, []byte(token), &rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketECTokenTms).Put(timeKey(now.Unix(), []byte(token)), nil); err != nil {
			return fmt.Errorf("%w: %v", ErrState, err)
		}
		if err := pruneIndex(tx, bucketECTokenTms, bucketECTokens, now.Add(-2*ecTokenLife).Unix()); err != nil {
			return fmt.Errorf("%w: prune tokens: %v", ErrState, err)
		}
		out = ECAnswer{Code: 0, Message: "交易成功", OrgID: req.OrgID, Data: ecUser(person, token)}
		return nil
	})
	if err != nil {
		p.log.Error("ec.query failed", "err", err)
		return fail("系统内部错误，请稍后重试")
	}
	return out
}

func ecUser(p *personas.Person, token string) *ECUser {
	return &ECUser{
		EcToken: token, IDNo: p.Certno, IDType: "01", UserName: p.Name, InsuOrg: p.InsuplcAdmdvs,
		EcIndexNo: strings.ToUpper(hex.EncodeToString([]byte(p.PsnNo))[:min(32, 2*len(p.PsnNo))]),
		Gender:    p.Gender, Birthday: p.BirthDate,
	}
}

func newECToken(region string) (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("%w: random: %v", ErrState, err)
	}
	if len(region) != 6 {
		region = "000000"
	}
	return region + "ec" + hex.EncodeToString(b[:]), nil
}

// byECToken identifies the holder of an ecToken (1101 with
// mdtrt_cert_type 01), for the institution that asked the component. It
// returns nil and no error for text that is not shaped like a token: a
// code of ours, which byCode reads.
func (c *call) byECToken(text string) (*personas.Person, error) {
	if !ecTokenShape.MatchString(text) {
		return nil, nil
	}
	var rec ecTokenRecord
	found, err := getJSON(c.tx, bucketECTokens, []byte(text), &rec)
	if err != nil {
		return nil, err
	}
	switch {
	case !found || rec.Org != c.inst.Code:
		return nil, refuse(protocol.CodeCredentialInvalid, "unknown ecToken; read the patient's e-voucher again")
	case !c.now.Before(rec.Expires):
		return nil, refuse(protocol.CodeCredentialExpired, "ecToken expired; read the patient's e-voucher again")
	}
	p, ok := c.p.data.ByPsnNo(rec.PsnNo)
	if !ok {
		return nil, fmt.Errorf("%w: ecToken of an unknown psn_no", ErrState)
	}
	return p, nil
}
