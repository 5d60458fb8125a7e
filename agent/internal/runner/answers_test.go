package runner

import (
	"testing"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// mixedPolicies have expr leaves among file leaves; the runner's tests
// link no expression engine, as the agent does not.
const mixedPolicies = `policies:
  - id: mixed
    title: motd on Debian
    severity: low
    check:
      all:
        - file: {path: /etc/motd, exists: true}
        - expr: inventory.os.platform == "debian"
  - id: decided
    title: A missing file decides
    severity: low
    check:
      all:
        - file: {path: /etc/nosuch, exists: true}
        - expr: "true"
  - id: plain
    title: motd
    severity: low
    check:
      file: {path: /etc/motd, exists: true}
`

func answers(rev uint64, value bool) wire.ExprAnswers {
	detail := policy.ExprDetail(`inventory.os.platform == "debian"`, value)
	return wire.ExprAnswers{Revision: rev, Answers: map[string]map[string]policy.ExprAnswer{
		"mixed":   {"check.all[1].expr": {Value: value, Detail: detail}},
		"decided": {"check.all[1].expr": {Value: true, Detail: "true => true"}},
	}}
}

// TestExprAnswersFromServer: a policy whose verdict needs an expr leaf is
// held back until the server's answer arrives, then reported and
// re-evaluated whenever the answers change; one its file leaf decides is
// reported at once; answers may arrive before the set they belong to.
func TestExprAnswersFromServer(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	a.start(t)
	ps, err := policy.Parse("mixed.yaml", []byte(mixedPolicies))
	if err != nil {
		t.Fatal(err)
	}

	fc := fs.accept(t)
	if h := fc.handshake(t, 0); !h.ExprAnswers {
		t.Error("hello does not ask for expr answers")
	}
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 5, Policies: ps})
	f.give(t, doc(software))
	m, res := fc.changedResults(t)
	sameStatuses(t, "before any answer", statuses(res), map[string]policy.Status{
		"decided": policy.StatusFail,
		"plain":   policy.StatusPass,
	})
	ackResults(t, fc, a, m, 2)

	fc.send(t, wire.TypeExprAnswers, 0, answers(5, true))
	m, res = fc.changedResults(t)
	sameStatuses(t, "answered true", statuses(res), map[string]policy.Status{"mixed": policy.StatusPass})
	if ev := res.Results[0].Evidence; len(ev) != 2 || ev[1].Check != "check.all[1].expr" || !ev[1].Passed ||
		ev[1].Detail != `inventory.os.platform == "debian" => true` {
		t.Errorf("evidence %+v, want the server's answer last", ev)
	}
	ackResults(t, fc, a, m, 3)

	fc.send(t, wire.TypeExprAnswers, 0, answers(5, false))
	m, res = fc.changedResults(t)
	sameStatuses(t, "answered false", statuses(res), map[string]policy.Status{"mixed": policy.StatusFail})
	ackResults(t, fc, a, m, 3)

	// The next revision's answers come first, then its set.
	fc.send(t, wire.TypeExprAnswers, 0, answers(6, true))
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 6, Policies: ps})
	for {
		m, res = fc.results(t)
		if res.Revision == 6 && len(res.Results) > 0 {
			break
		}
		fc.ack(t, m.env.Seq, false)
	}
	sameStatuses(t, "revision 6", statuses(res), map[string]policy.Status{"mixed": policy.StatusPass})
}
