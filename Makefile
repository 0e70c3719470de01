# Switchboard: build, run and test every module from the repository root.

MODULES  := shared services/gateway services/membership services/presence services/switchboard
BINARIES := bin/switchboard bin/gateway bin/membership bin/presence
FUZZTIME ?= 3s
# package:target pairs run briefly by `make test`.
FUZZ := shared/contract:FuzzDecodeSignal \
        services/gateway/internal/native:FuzzParse \
        services/gateway/internal/dyson:FuzzParse \
        services/membership:FuzzRequests \
        services/membership:FuzzDecodeAccess \
        services/presence:FuzzDecodeRoom \
        services/presence:FuzzCheckJoin \
        services/presence:FuzzRoomKey

export GOFLAGS ?= -buildvcs=false

.PHONY: all build run test vet fmt-check unit fuzz bench tidy-check clean

all: build

build: $(BINARIES)

bin/%: FORCE
	go build -o $@ ./services/$*/cmd/$*

FORCE:

# The whole system in one process, dev mode: open rooms, a made-up JWT
# secret unless SWITCHBOARD_JWT_SECRET is set, tokens printed.
run: bin/switchboard
	SWITCHBOARD_METRICS_ADDR=$${SWITCHBOARD_METRICS_ADDR-127.0.0.1:9464} ./bin/switchboard run --dev

test: fmt-check vet unit fuzz

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && go vet ./...) || exit 1; done

unit:
	@for m in $(MODULES); do echo "go test -race $$m"; (cd $$m && go test -race -count=1 ./...) || exit 1; done

fuzz:
	@for f in $(FUZZ); do pkg=$${f%%:*}; target=$${f##*:}; \
		echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; done

bench:
	cd shared && go test -run '^$$' -bench . -benchmem ./contract
	cd services/gateway && go test -run '^$$' -bench . -benchmem ./internal/...
	cd services/membership && go test -run '^$$' -bench . -benchmem .
	cd services/presence && go test -run '^$$' -bench . -benchmem .
	cd services/switchboard && go test -run '^$$' -bench . -benchmem ./internal/e2e

# Each service module must build alone, as in a container build.
tidy-check:
	@for m in $(MODULES); do (cd $$m && GOWORK=off go build ./... && GOWORK=off go mod tidy -diff) || exit 1; done

clean:
	rm -rf bin
