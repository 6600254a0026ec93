# tests/soak/: the soak under faults (`make soak`, SOAK_SECONDS and
# SOAK_KILLS), a short one in `make test`, and the hostile guests e2e.
E2E_TESTS += tests/soak/soak_short.sh tests/e2e/hostile_guests.sh

soak: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(B) SOAK_SECONDS=$(or $(SOAK_SECONDS),240) \
		SOAK_KILLS=$(or $(SOAK_KILLS),100000) ./tests/soak/soak.sh
