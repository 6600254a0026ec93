# host/: the host CLI `parapet` (igvm build|dump|measure; run, list, ctl
# join the subcommand table in host/main.c).
PARAPET_IGVM_SRCS := host/igvm_cmd.c host/igvm_build.c host/igvm_dump.c \
	host/elf_load.c
PARAPET_RUN_SRCS := host/run.c host/list.c host/hostchan.c \
	host/ctl.c host/timeline.c host/ids.c host/disks.c host/console.c \
	host/console_attach.c host/libexec.c host/metrics_cmd.c host/sdnotify.c
$(eval $(call program,parapet,host/main.c $(PARAPET_IGVM_SRCS) \
	$(PARAPET_RUN_SRCS)))
$(eval $(call unit_test,igvm_cmd_test,$(PARAPET_IGVM_SRCS)))
$(eval $(call unit_test,hostchan_test,host/hostchan.c))
# Bad input to every binary (issue 12): one table, every flag and file.
E2E_TESTS += tests/e2e/bad_input.sh tests/e2e/log_level.sh
# Console attach and --console (docs/console.md).
E2E_TESTS += tests/e2e/console.sh

# parapet-metrics: `parapet metrics`' HTTP server, the one binary that
# links libmicrohttpd (`parapet` execs it; docs/operators.md).
PARAPET_METRICS_SRCS := host/metrics_collect.c host/metrics_expo.c
$(eval $(call program,parapet-metrics,host/metrics_main.c \
	$(PARAPET_METRICS_SRCS)))
$(B)/obj/host/metrics_main.o: CPPFLAGS += \
	$(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
$(B)/bin/parapet-metrics: LDLIBS += \
	$(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
$(eval $(call unit_test,metrics_collect_test,$(PARAPET_METRICS_SRCS)))
E2E_TESTS += tests/e2e/metrics.sh

# A stand-in for systemd's notify socket (tests/e2e/systemd.sh; not
# installed).
$(B)/tests/parapet-notify-listen: $(call objs,tests/e2e/notify_listen.c)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)
all: $(B)/tests/parapet-notify-listen
E2E_TESTS += tests/e2e/systemd.sh
