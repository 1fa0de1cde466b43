//go:build !race

package trackstats

// raceEnabled: built with -race (see storeWord).
const raceEnabled = false
