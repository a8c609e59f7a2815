// Package glue adapts the device packages to the core's ports: a PC/SC
// reader (devices/pcsc) to agent.CardReader, the social-security card
// reader (devices/sscard) to agent.CardIdentifier, the code verifier
// (devices/credential) to agent.CodeVerifier and the journal's counters to
// it, a serial scanner's codes (devices/scanner) to the kiosk's.
//
// The device packages import no core package: each declares the small
// interface or type it needs, and the core owns its own. This package is
// where the two meet, for the product (cmd/medterm) and for the tests that
// run the core over real devices; the layering test (agent/layering) pins
// that nothing else does. Each adapter converts types field by field and
// translates the one error the core acts on where a device has its own.
package glue
