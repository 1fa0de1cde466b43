module github.com/trackstats/trackstats/cbindings/go/tspion

go 1.24.0

require (
	github.com/pion/interceptor v0.1.51
	github.com/pion/rtp v1.10.6
	github.com/trackstats/trackstats/cbindings/go v0.0.0-00010101000000-000000000000
)

require (
	github.com/pion/logging v0.2.4 // indirect
	github.com/pion/randutil v0.1.0 // indirect
	github.com/pion/rtcp v1.2.20 // indirect
)
