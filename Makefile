# medterm: run `make help` for the targets.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A Debian version: the release tag (v1.2.3), else 0.1.0 and the commit.
DEB_VERSION ?= $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//' | grep . || echo 0.1.0+git$$(git rev-parse --short HEAD 2>/dev/null || echo 0))
BIN := bin
FUZZTIME ?= 60s
# make test fuzzes by a count of executions, not a duration: Go 1.26's
# fuzzing coordinator can report a duration's end as a failure ("context
# deadline exceeded", go.dev/issue/75804, fixed in Go 1.27) when a loaded
# machine's worker is slow to stop.
BRIEF_FUZZTIME ?= 150000x
# The parsers that take bytes from outside (cards, scanners, codes): fuzzed
# briefly by `make test`, longer by `make fuzz`.
BRIEF_FUZZ := ./devices/sscard:FuzzRecord ./devices/sscard:FuzzAccountRecord ./devices/credential:FuzzVerify ./devices/scanner:FuzzFramer ./agent/api:FuzzDecodeSettleBody
SOAKTIME ?= 10m
REPEAT ?= 10

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install the Debian packages that build, test and demo need (apt, as root or via sudo)
	@packaging/dev/setup.sh
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required (expected at /usr/local/go)"; exit 1; }

.PHONY: build
build: setup ## Build medterm and medterm-sandbox into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/medterm ./cmd/medterm-sandbox

.PHONY: run
run: build ## Start the sandbox and the agent, and play a day at the hospital
	$(BIN)/medterm-sandbox demo --medterm $(BIN)/medterm

.PHONY: test
test: setup ## Run every test, unit and integration (under 10 minutes)
	$(GO) vet ./...
	@rm -rf .artefacts && mkdir -p .artefacts/logs
	@# Every line the suite writes goes to .artefacts/test.log (with -v: the
	@# logs of passing tests too); the screen shows the results and failures.
	@echo "go test -v -count=1 -timeout 9m ./...  (full output: .artefacts/test.log)"
	@set -o pipefail; MEDTERM_ARTEFACTS=$(CURDIR)/.artefacts $(GO) test -v -count=1 -timeout 9m ./... 2>&1 \
	  | tee .artefacts/test.log | grep -E --line-buffered '^(ok|FAIL|--- FAIL|panic:| +[^ ]+_test\.go:[0-9]+:| +--- FAIL)'
	@# No log of the suite holds a patient's personal data in clear.
	$(GO) run ./cmd/medterm-sandbox leakscan .artefacts/test.log $$(find .artefacts/logs -name '*.log')
	@for t in $(BRIEF_FUZZ); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn ($$pkg) for $(BRIEF_FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(BRIEF_FUZZTIME) $$pkg || exit 1; \
	done

.PHONY: test-repeat
test-repeat: ## Run `make test` REPEAT times in a row (default 10), each run's log in .run/, and say how many passed
	@mkdir -p .run; pass=0; \
	for i in $$(seq 1 $(REPEAT)); do \
	  start=$$(date +%s); \
	  if $(MAKE) --no-print-directory test > .run/test-repeat-$$i.log 2>&1; then pass=$$((pass+1)); r=green; else r="FAILED (.run/test-repeat-$$i.log)"; fi; \
	  echo "run $$i of $(REPEAT): $$r in $$(( $$(date +%s) - start )) s"; \
	done; \
	echo "$$pass of $(REPEAT) runs green"; [ $$pass -eq $(REPEAT) ]

.PHONY: bench
bench: setup ## Run the benchmarks (ratios against baselines measured in the same run)
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkScale$$' -benchmem -benchtime 2s -timeout 30m ./...
	@# The daemon as a process at 1,000 and 10,000 records (make bench-scale adds 100,000).
	$(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 30m ./cmd/medterm

.PHONY: bench-scale
bench-scale: setup ## The daemon at 1,000, 10,000 and 100,000 records: memory, record size, group commit, CPU per bill, drain at 20 ms, start (long)
	MEDTERM_BENCH_SIZES=1000,10000,100000 $(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 4h ./cmd/medterm

.PHONY: fuzz
fuzz: setup ## Run every fuzz target for FUZZTIME each (default 60s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

.PHONY: soak
soak: build ## Kill the daemon under load at random moments for SOAKTIME (default 10m), then check every bill
	MEDTERM_SOAK=$(SOAKTIME) $(GO) test -count=1 -timeout 0 -run 'TestKill' -v ./cmd/medterm

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: package
package: setup ## Build the Debian packages for amd64 and arm64 into dist/ (nfpm, from packaging/nfpm.yaml)
	@mkdir -p dist $(BIN)/linux-amd64 $(BIN)/linux-arm64
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/medterm ./cmd/medterm
	@# arm64: a cgo cross build against Debian's arm64 libpcsclite.
	GOOS=linux GOARCH=arm64 CGO_ENABLED=1 CC=aarch64-linux-gnu-gcc PKG_CONFIG_PATH=/usr/lib/aarch64-linux-gnu/pkgconfig \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/medterm ./cmd/medterm
	@file -b $(BIN)/linux-arm64/medterm | grep -q 'ARM aarch64' \
	  && aarch64-linux-gnu-readelf -d $(BIN)/linux-arm64/medterm | grep -q 'NEEDED.*libpcsclite\.so' \
	  && echo "bin/linux-arm64/medterm: an arm64 ELF linked against libpcsclite" \
	  || { echo "bin/linux-arm64/medterm is not an arm64 ELF linked against libpcsclite"; exit 1; }
	for arch in amd64 arm64; do \
	  mkdir -p $(BIN)/package && cp $(BIN)/linux-$$arch/medterm $(BIN)/package/medterm && \
	  ARCH=$$arch VERSION=$(DEB_VERSION) $(GO) tool nfpm package --config packaging/nfpm.yaml --packager deb --target dist/ || exit 1; \
	done
	@dpkg-deb -f dist/medterm_$(DEB_VERSION)_arm64.deb Architecture | grep -qx arm64 && echo "dist/medterm_$(DEB_VERSION)_arm64.deb: Architecture arm64"

.PHONY: test-package
test-package: package ## Build the packages; install the amd64 .deb into a Debian chroot (debootstrap, as root): upgrade with deferred bills, drain, doctor, purge
	MEDTERM_PACKAGE_TEST=1 MEDTERM_ARTEFACTS=$(CURDIR)/.artefacts $(GO) test -count=1 -timeout 15m -run 'TestTheDebianPackage' -v ./cmd/medterm

.PHONY: cross
cross: setup ## Build both programs for windows/amd64 and the drop-in SSCardDriver.dll (64- and 32-bit), and check the DLLs' export
	@mkdir -p $(BIN)/windows-amd64
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/windows-amd64/ ./cmd/medterm ./cmd/medterm-sandbox
	GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc $(GO) build -trimpath -ldflags '-s -w' -buildmode=c-shared \
	  -o $(BIN)/windows-amd64/SSCardDriver.dll ./cmd/sscarddriver
	@x86_64-w64-mingw32-objdump -p $(BIN)/windows-amd64/SSCardDriver.dll | grep -qw iReadCardBas \
	  && echo "SSCardDriver.dll exports iReadCardBas" \
	  || { echo "SSCardDriver.dll does not export iReadCardBas"; exit 1; }
	@# The 32-bit DLL for 32-bit HIS programs: __stdcall, exported undecorated.
	@mkdir -p $(BIN)/windows-386
	GOOS=windows GOARCH=386 CGO_ENABLED=1 CC=i686-w64-mingw32-gcc CGO_LDFLAGS=-Wl,--kill-at $(GO) build -trimpath -ldflags '-s -w' -buildmode=c-shared \
	  -o $(BIN)/windows-386/SSCardDriver.dll ./cmd/sscarddriver
	@i686-w64-mingw32-objdump -p $(BIN)/windows-386/SSCardDriver.dll | grep -qE '^\s+\[ *[0-9]+\] iReadCardBas$$' \
	  && echo "the 32-bit SSCardDriver.dll exports iReadCardBas (undecorated)" \
	  || { echo "the 32-bit SSCardDriver.dll does not export iReadCardBas undecorated"; exit 1; }

# The MSI's ProductVersion: the numeric part of the Debian version.
MSI_VERSION := $(shell echo '$(DEB_VERSION)' | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+).*/\1/')
MSI := dist/medterm-$(DEB_VERSION)-x64.msi

.PHONY: msi
msi: cross ## Build the Windows installer (wixl) into dist/ and check its service, files and folder ACLs with msiinfo
	@mkdir -p dist
	sed -f packaging/windows/config.sed packaging/medterm.toml > $(BIN)/windows-amd64/medterm.toml
	wixl -D Version=$(MSI_VERSION) -D Bin=$(BIN)/windows-amd64 -a x64 -o $(MSI) packaging/windows/medterm.wxs
	@# What wixl cannot say: the folders' ACLs (SDDL), and the configuration
	@# and folders kept on upgrade and uninstall (permanent, never overwritten).
	msibuild $(MSI) -i packaging/windows/MsiLockPermissionsEx.idt \
	  -q "UPDATE Component SET Attributes = 400 WHERE Component = 'Config'" \
	  -q "UPDATE Component SET Attributes = 272 WHERE Component = 'DataFolder' OR Component = 'SecretsFolder' OR Component = 'LogsFolder'"
	@packaging/windows/check-msi.sh $(MSI)

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
