package agent

// JournalForTest exposes the service's journal to tests.
func (s *Service) JournalForTest() Journal { return s.journal }
