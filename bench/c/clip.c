/*
 * C reference for `npm run bench`: the three clipping rules on float32 gradients, written as
 * a careful C programmer would (single thread, float64 accumulation of the squares, the
 * reduction vectorised with `#pragma omp simd` so no -ffast-math is needed), built by the bench
 * script with `gcc -O3 -march=native -fopenmp-simd`.
 *
 * usage: clip <op: global|value|pertensor> <total values> <tensors> <budget ms> <max reps> <threshold>
 * One untimed warm-up rep, then max(3, min(max reps, budget / warm-up time)) timed reps, each on
 * gradients restored from a pristine copy. Prints one JSON object: times (ms per rep), the norm it computed, checksums of the output,
 * and the peak RSS. Data: the same deterministic generator as bench/data.mjs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static float value_at(uint32_t t, uint32_t i) {
  uint32_t h = i * 2654435761u + t * 40503u + 12345u;
  return (float)((int32_t)(h >> 8) - 8388608) / 8388608.0f;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double sumsq(const float *x, size_t n) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (size_t i = 0; i < n; i++) acc += (double)x[i] * (double)x[i];
  return acc;
}

static void scale(float *x, size_t n, float s) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) x[i] *= s;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: clip global|value|pertensor total tensors budget_ms max_reps threshold\n");
    return 2;
  }
  const char *op = argv[1];
  size_t total = strtoull(argv[2], 0, 10), tensors = strtoull(argv[3], 0, 10);
  double budget = atof(argv[4]);
  int max_reps = atoi(argv[5]);
  double thr = atof(argv[6]);
  int reps = 1;
  size_t per = total / tensors;
  float **g = malloc(tensors * sizeof(float *)), **src = malloc(tensors * sizeof(float *));
  for (size_t t = 0; t < tensors; t++) {
    g[t] = aligned_alloc(64, ((per * 4 + 63) / 64) * 64);
    src[t] = aligned_alloc(64, ((per * 4 + 63) / 64) * 64);
    for (size_t i = 0; i < per; i++) src[t][i] = value_at((uint32_t)t, (uint32_t)i);
  }
  double norm = NAN;
  /* the warm-up rep (r = -1) is not printed; it sizes the number of timed reps */
  printf("{\"times\":[");
  for (int r = -1; r < reps; r++) {
    for (size_t t = 0; t < tensors; t++) memcpy(g[t], src[t], per * 4);
    double t0 = now_ms();
    if (!strcmp(op, "global")) {
      double acc = 0;
      for (size_t t = 0; t < tensors; t++) acc += sumsq(g[t], per);
      norm = sqrt(acc);
      double coef = thr / (norm + 1e-6);
      if (coef < 1) {
        float s = (float)coef;
        for (size_t t = 0; t < tensors; t++) scale(g[t], per, s);
      }
    } else if (!strcmp(op, "value")) {
      float c = (float)thr;
      for (size_t t = 0; t < tensors; t++) {
        float *x = g[t];
#pragma omp simd
        for (size_t i = 0; i < per; i++) x[i] = x[i] > c ? c : (x[i] < -c ? -c : x[i]);
      }
    } else {
      for (size_t t = 0; t < tensors; t++) {
        double n2 = sqrt(sumsq(g[t], per));
        if (n2 > thr) scale(g[t], per, (float)(thr / n2));
      }
    }
    double dt = now_ms() - t0;
    if (r < 0) {
      reps = (int)(budget / (dt > 1e-6 ? dt : 1e-6));
      reps = reps < 3 ? 3 : reps > max_reps ? max_reps : reps;
    } else {
      printf("%s%.6f", r ? "," : "", dt);
    }
  }
  double sum = 0, sumAbs = 0;
  for (size_t t = 0; t < tensors; t++)
    for (size_t i = 0; i < per; i++) sum += g[t][i], sumAbs += fabs(g[t][i]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  /* JSON has no NaN: ops without a norm print null */
  if (isnan(norm)) printf("],\"norm\":null,");
  else printf("],\"norm\":%.17g,", norm);
  printf("\"sum\":%.17g,\"sumAbs\":%.17g,\"first\":%.9g,\"last\":%.9g,\"maxRssKB\":%ld}\n",
         sum, sumAbs, (double)g[0][0], (double)g[tensors - 1][per - 1], ru.ru_maxrss);
  return 0;
}
