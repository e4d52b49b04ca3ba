package main

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-dev/roster"
)

// registerStoreMetrics adds the store's connection pool to the server's registry. The
// web package knows no store, so the wiring happens here. The SQLite store exposes no
// pool statistics: nothing is registered for it.
func registerStoreMetrics(reg prometheus.Registerer, store roster.Store) {
	if p, ok := store.(interface{ Pool() *pgxpool.Pool }); ok {
		reg.MustRegister(&poolCollector{pool: p.Pool()})
	}
}

// poolCollector reads pgxpool's statistics at each scrape. Hand-written: a dozen lines,
// where a library for it (IBM/pgxpoolprometheus) would be one more module to track.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolDesc = func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("roster_db_pool_"+name, help, nil, nil)
	}
	poolMax          = poolDesc("max_conns", "Most connections the pool opens.")
	poolTotal        = poolDesc("total_conns", "Connections open: acquired, idle and being made.")
	poolAcquired     = poolDesc("acquired_conns", "Connections in use.")
	poolIdle         = poolDesc("idle_conns", "Connections idle in the pool.")
	poolAcquires     = poolDesc("acquires_total", "Connections handed out.")
	poolWaits        = poolDesc("empty_acquires_total", "Acquires that had to wait for a connection: a pool too small for the load.")
	poolWaitSeconds  = poolDesc("acquire_wait_seconds_total", "Time spent waiting for connections.")
	poolCanceled     = poolDesc("canceled_acquires_total", "Acquires given up (context cancelled) before a connection came.")
	poolNewConns     = poolDesc("new_conns_total", "Connections opened.")
	poolLifetimeDrop = poolDesc("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime.")
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolMax, poolTotal, poolAcquired, poolIdle, poolAcquires,
		poolWaits, poolWaitSeconds, poolCanceled, poolNewConns, poolLifetimeDrop} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolMax, float64(s.MaxConns()))
	gauge(poolTotal, float64(s.TotalConns()))
	gauge(poolAcquired, float64(s.AcquiredConns()))
	gauge(poolIdle, float64(s.IdleConns()))
	counter(poolAcquires, float64(s.AcquireCount()))
	counter(poolWaits, float64(s.EmptyAcquireCount()))
	counter(poolWaitSeconds, s.AcquireDuration().Seconds())
	counter(poolCanceled, float64(s.CanceledAcquireCount()))
	counter(poolNewConns, float64(s.NewConnsCount()))
	counter(poolLifetimeDrop, float64(s.MaxLifetimeDestroyCount()))
}

// jobMetrics count the periodic jobs this instance ran.
type jobMetrics struct {
	runs           *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	uploadsRemoved prometheus.Counter
}

func newJobMetrics(reg prometheus.Registerer) *jobMetrics {
	m := &jobMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_job_runs_total", Help: "Periodic job runs on this instance, by job and outcome (ok, error). Only the instance holding the job's lock runs it.",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "roster_job_duration_seconds", Help: "Duration of periodic job runs.", Buckets: prometheus.DefBuckets,
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "roster_job_last_success_timestamp_seconds", Help: "When a job last succeeded on this instance (Unix time).",
		}, []string{"job"}),
		uploadsRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_abandoned_uploads_removed_total", Help: "Uploads deleted because nobody committed them within --upload-ttl.",
		}),
	}
	reg.MustRegister(m.runs, m.duration, m.lastSuccess, m.uploadsRemoved)
	return m
}

func (m *jobMetrics) observe(job string, took time.Duration, err error) {
	m.duration.WithLabelValues(job).Observe(took.Seconds())
	if err != nil {
		m.runs.WithLabelValues(job, "error").Inc()
		return
	}
	m.runs.WithLabelValues(job, "ok").Inc()
	m.lastSuccess.WithLabelValues(job).SetToCurrentTime()
}
