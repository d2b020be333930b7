//go:build race

package zitadel_test

// raceEnabled: the tests run with the race detector, and so does the
// Portcullis binary they build.
const raceEnabled = true
