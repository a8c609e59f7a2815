package journal_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "journal")
	defer os.RemoveAll(dir)
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{
		KeyFile:     filepath.Join(dir, "keys", "journal.key"),
		Institution: "H44010600001",
		Slot:        7,
		IDPrefix:    "DESK01",
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	s, created, _ := j.Accept(context.Background(), &agent.Settlement{IdempotencyKey: "his-42"},
		func(s *agent.Settlement, ids agent.MsgidAllocator) error {
			m, err := ids.Next()
			s.Msgids = map[string]string{"2207": m}
			return err
		})
	fmt.Println(s.ID, created, len(s.Msgids["2207"]))
	// Output: DESK01-00000001 true 30
}
