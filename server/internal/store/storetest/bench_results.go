package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// BenchmarkResults measures ApplyResults on the shape server-side
// evaluation sends (chunks of 100 hosts, 30 policies each), once with
// every status unchanged (the common case: a re-evaluation) and once with
// every status flipping (a transition row per result), and the compliance
// summary over 2,000 hosts. open is as for Run.
func BenchmarkResults(b *testing.B, open func(b *testing.B) store.Store) {
	const hostsPerCall, policies = 100, 30
	setup := func(b *testing.B, hosts int) (store.Store, []int64, []string) {
		st, ids := benchStore(b, open, hosts)
		specs := make([]store.PolicySpec, policies)
		names := make([]string, policies)
		for i := range specs {
			names[i] = fmt.Sprintf("policy-%02d", i)
			specs[i] = spec(names[i], "true")
		}
		if _, err := st.ApplyPolicies(b.Context(), store.PolicyApply{Policies: specs, Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
		return st, ids, names
	}
	batches := func(names []string, hosts []int64, round int, flip bool) []store.ResultBatch {
		out := make([]store.ResultBatch, len(hosts))
		for i, h := range hosts {
			rb := store.ResultBatch{HostID: h, Revision: 1, Results: make([]policy.Result, len(names))}
			for j, n := range names {
				st := policy.StatusPass
				if flip && round%2 == 1 || !flip && j%3 == 0 {
					st = policy.StatusFail
				}
				rb.Results[j] = policy.Result{PolicyID: n, Status: st, CheckedAt: t0.Add(time.Duration(round) * time.Minute),
					Duration: time.Millisecond, Evidence: []policy.Evidence{{Check: "check.expr", Detail: "inventory.os.platform is \"debian\""}}}
			}
			out[i] = rb
		}
		return out
	}
	for _, flip := range []bool{false, true} {
		name := "unchanged statuses, 100 hosts x 30 policies"
		if flip {
			name = "every status flips, 100 hosts x 30 policies"
		}
		b.Run(name, func(b *testing.B) {
			st, hosts, names := setup(b, hostsPerCall)
			round := 0
			if _, err := st.ApplyResults(b.Context(), batches(names, hosts, round, flip)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				round++
				in := batches(names, hosts, round, flip)
				b.StartTimer()
				ts, err := st.ApplyResults(b.Context(), in)
				if err != nil {
					b.Fatal(err)
				}
				if flip != (len(ts) > 0) {
					b.Fatalf("%d transitions", len(ts))
				}
			}
			b.ReportMetric(float64(b.N*hostsPerCall*policies)/b.Elapsed().Seconds(), "results/s")
		})
	}
	b.Run("compliance, 2000 hosts x 30 policies", func(b *testing.B) {
		st, hosts, names := setup(b, 2000)
		for i := 0; i < len(hosts); i += hostsPerCall {
			if _, err := st.ApplyResults(b.Context(), batches(names, hosts[i:i+hostsPerCall], 0, false)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.AddExemption(b.Context(), store.Exemption{PolicyID: names[0], HostID: hosts[0], Reason: "r", Owner: "o",
			ExpiresAt: time.Now().Add(time.Hour), CreatedBy: "bench"}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			cs, err := st.Compliance(b.Context(), time.Time{})
			if err != nil || len(cs) != policies || cs[0].Exempt != 1 {
				b.Fatalf("compliance = %+v, %v", cs, err)
			}
		}
	})
}
