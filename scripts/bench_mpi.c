/* Reference side of `cargo xtask bench dist`: MPI_Allreduce (MPI_SUM, float) under mpirun, timed as
 * `tessera dist bench` times its own (two warm-up calls, then as many calls as fill the budget, 3 to
 * 1000, agreed by all ranks; the slowest rank's mean per call; every result checked against the exact
 * sum). Rank 0 prints {"results": [{"bytes", "time_us", "busbw_gbps"}, ...]}.
 * Build: mpicc -O2 -o bench_mpi scripts/bench_mpi.c
 * Usage: mpirun -np N bench_mpi BYTES[,BYTES...] [BUDGET_MS] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, world;

static double once(float *buf, size_t n, size_t nbytes) {
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i % 251) + rank);
    double t = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double dt = MPI_Wtime() - t;
    float base = (float)(world * (world - 1) / 2);
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != (float)(world * (i % 251)) + base) {
            fprintf(stderr, "wrong sum at %zu bytes, element %zu\n", nbytes, i);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    return dt;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (argc < 2) {
        if (rank == 0) fprintf(stderr, "usage: bench_mpi BYTES[,BYTES...] [BUDGET_MS]\n");
        MPI_Finalize();
        return 2;
    }
    double budget = (argc > 2 ? atof(argv[2]) : 300.0) / 1000.0;
    char *sizes = strdup(argv[1]);
    if (rank == 0) printf("{\"results\": [");
    int first = 1;
    for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
        size_t nbytes = strtoull(tok, NULL, 10), n = nbytes / 4;
        float *buf = malloc(n ? n * sizeof(float) : 1);
        once(buf, n, nbytes);
        double probe = once(buf, n, nbytes), pmax;
        MPI_Allreduce(&probe, &pmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        double want = budget / (pmax > 1e-7 ? pmax : 1e-7);
        int iters = want < 3 ? 3 : (want > 1000 ? 1000 : (int)want);
        double total = 0;
        for (int i = 0; i < iters; i++) total += once(buf, n, nbytes);
        double mean = total / iters, mmax;
        MPI_Allreduce(&mean, &mmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        double factor = world > 1 ? 2.0 * (world - 1) / world : 1.0;
        if (rank == 0) {
            printf("%s{\"bytes\": %zu, \"time_us\": %.3f, \"busbw_gbps\": %.6f}", first ? "" : ", ", nbytes,
                   mmax * 1e6, nbytes / mmax * factor / 1e9);
            fflush(stdout);
        }
        first = 0;
        free(buf);
    }
    if (rank == 0) printf("]}\n");
    free(sizes);
    MPI_Finalize();
    return 0;
}
