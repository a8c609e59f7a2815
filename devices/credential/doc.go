// Package credential is the signed dynamic insurance QR code: a credential
// certificate that the platform's issuer key grants to a patient's phone,
// and the short-lived codes the phone signs with it, which a terminal can
// verify with no network so that treat-first-pay-later keeps working
// through an outage.
//
// The byte layout, the signatures, the verification order and the test
// vectors are specified in FORMAT.md beside this file. The platform (and
// the sandbox) uses Issuer, Phone and TrustList; the terminal uses
// Verifier, with the trust list from transaction E001 and a durable
// CounterStore.
package credential
