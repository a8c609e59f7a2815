package stacktest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/stacktest"
)

// The desktop HIS example (packaging/his/java, Java 17 with Gson, as
// Debian packages them) compiled and run against the agent: a bill by ID
// number settles and its receipt prints; a malformed ID number is refused
// with its code and what to tell the patient.
func TestTheJavaHISExampleSettlesAndPrintsTheReceipt(t *testing.T) {
	const gson = "/usr/share/java/gson.jar"
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatal("javac is not installed: `make setup` installs it (Debian package openjdk-17-jdk-headless)")
	}
	if _, err := os.Stat(gson); err != nil {
		t.Fatal("Gson is not installed: `make setup` installs it (Debian package libgoogle-gson-java)")
	}
	s := stacktest.Start(t, stacktest.Options{})
	dir := t.TempDir()
	src, err := filepath.Abs("../../packaging/his/java/MedtermClient.java")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", dir, "-cp", gson, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	tokenFile := filepath.Join(dir, "api.token")
	if err := os.WriteFile(tokenFile, []byte(s.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(idNo string) (string, int) {
		cmd := exec.Command("java", "-cp", gson+":"+dir, "MedtermClient", "http://"+s.APIAddr, tokenFile, idNo)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	p, _ := s.Personas.ByKey("bank-card")
	out, code := run(p.Certno)
	if code != 0 || !strings.Contains(out, " settled") || !strings.Contains(out, "收费凭条 RECEIPT") {
		t.Fatalf("java client: exit %d\n%s", code, out)
	}
	out, code = run("44190019820903022X") // a wrong check digit
	if code != 2 || !strings.Contains(out, "refused INVALID_REQUEST") {
		t.Fatalf("java client with a bad ID number: exit %d\n%s", code, out)
	}
}
