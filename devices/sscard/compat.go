package sscard

import (
	"encoding/hex"
	"strings"
)

// ReadCardBas formats the identity as the standard reading interface's
// iReadCardBas output, so a hospital system can switch to the agent
// without changing its parser: region | social security number | card
// number | card identifier | name | card reset information (the ATR's
// historical bytes, hex) | spec version | issue date | expiry date |
// terminal number | terminal device number |, dates as YYYYMMDD.
func (id *Identity) ReadCardBas(terminalNo, deviceNo string) string {
	atr, _ := hex.DecodeString(id.ATR)
	fields := []string{
		id.Region,
		id.IDNumber,
		id.CardNumber,
		id.CardID,
		id.Name,
		strings.ToUpper(hex.EncodeToString(historicalBytes(atr))),
		id.Version,
		strings.ReplaceAll(id.IssueDate, "-", ""),
		strings.ReplaceAll(id.ExpiryDate, "-", ""),
		terminalNo,
		deviceNo,
	}
	return strings.Join(fields, "|") + "|"
}

// historicalBytes extracts the historical bytes of an ATR (ISO 7816-3):
// T0's low nibble counts them, and they follow the interface bytes that
// the Y indicators announce. A malformed ATR yields nil.
func historicalBytes(atr []byte) []byte {
	if len(atr) < 2 {
		return nil
	}
	k := int(atr[1] & 0x0F)
	i, y := 2, atr[1]>>4
	for {
		for bit := byte(1); bit <= 8; bit <<= 1 {
			if y&bit != 0 {
				i++
			}
		}
		if y&0x8 == 0 { // no TDi: the interface bytes end here
			break
		}
		if i-1 >= len(atr) {
			return nil
		}
		y = atr[i-1] >> 4
	}
	if i+k > len(atr) {
		return nil
	}
	return atr[i : i+k]
}
