// Package sim holds Tandem's sync simulation tests: several reference
// clients (sync/client), each with its own SQLite store, work offline
// against a real server (internal/testenv, HTTP on 127.0.0.1), sync in
// random orders through connections that lose answers, and must converge:
// every device holds exactly what the server shows its user, no
// acknowledged change is lost or duplicated, and every concurrent edit of
// the same field is a conflict for a team lead.
//
// Run many seeds with -sim.seeds=N, replay one failing seed with
// -sim.seed=N (the failing seed is printed), lengthen runs with
// -sim.steps=N. The field scenarios of FIELD-SCENARIOS.md that involve
// devices are in scenarios_test.go.
package sim
