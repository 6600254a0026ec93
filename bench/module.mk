# bench/: each benchmark is a program that writes build/bench/NAME.json.
# Benchmarks list themselves here with $(call bench,NAME,SOURCES) and
# link bench/report.c for the shared output format.
BENCH_REPORT := bench/report.c
$(eval $(call bench,ipc,bench/ipc.c $(BENCH_REPORT)))
$(eval $(call bench,boot,bench/boot.c bench/boot_stages.c bench/proc.c $(BENCH_REPORT)))
$(eval $(call bench,disk,bench/disk.c bench/disk_gap.c bench/proc.c $(BENCH_REPORT)))
$(eval $(call bench,density,bench/density.c bench/proc.c $(BENCH_REPORT)))
