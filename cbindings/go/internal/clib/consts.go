package clib

// The header's constants (include/trackstats.h), by their C names in Go
// case. TestConstantsMatchTheHeader compiles the header and compares every
// TRACKSTATS_ constant it defines with these.

// The libtrackstats version whose ABI this module mirrors. Get refuses a
// library that reports another (trackstats_version): LibraryVersion is
// these three, as the library prints them.
const (
	VersionMajor   = 0
	VersionMinor   = 1
	VersionPatch   = 0
	LibraryVersion = "0.1.0"
)

// The window lengths a registry accepts, and the default, in milliseconds.
const (
	IntervalMinMS     = 1
	IntervalMaxMS     = 3_600_000
	IntervalDefaultMS = 5000
)

// Modes of trackstats_config.
const (
	ModeThread = 0
	ModeManual = 1
)

// trackstats_config's defaults and limits, and its flags.
const (
	QuarantineDefaultMS    = 5000
	QuarantineDefaultSlots = 4096
	GraceDefaultMS         = 5000
	GraceDefaultSlots      = 4096
	PendingClosedDefault   = 65536
	MaxTracks              = 1 << 26
	ConfigNeverReuse       = 1
)

// Report flags.
const (
	FlagFinal    = 1
	FlagLate     = 2
	FlagMerged   = 4
	FlagOverflow = 8
)

// Directions.
const (
	DirectionUp   = 0
	DirectionDown = 1
)

// MaxIDBytes is the longest participant, track or country id.
const MaxIDBytes = 256

// The window-word rule.
const (
	WordBytesBits  = 40
	WordMessageOne = 1 << WordBytesBits
	WordBytesMask  = WordMessageOne - 1
	WordSpillMask  = 1<<63 | 1<<39
	// WordSealed is a window word the library let go of (released).
	WordSealed = WordSpillMask
	// MaxInlineBytes is the largest record done with one atomic add.
	MaxInlineBytes = 1<<24 - 1
	// MaxRecordBytes: larger records are rejected.
	MaxRecordBytes = 1 << 40
)

// The packet words (trackstats_track_packet_words).
const (
	PacketWordState      = 0
	PacketWordLost       = 1
	PacketWordRecovered  = 2
	PacketWordOutOfOrder = 3
	PacketWordDuplicated = 4
	PacketWordFrames     = 5
	PacketWords          = 6
	PacketStarted        = 1 << 16
)

// Hosted words (trackstats_track_open_hosted).
const (
	HostedWords            = 8
	HostedWordUp           = 0
	HostedWordDown         = 1
	HostedWordLetGo        = 2
	HostedWordTotalUpBytes = 4
	HostedLetGo            = 1
	HostedPacketWords      = 16
)

// Result codes (trackstats_result).
const (
	ResultOK                = 0
	ResultNullArgument      = 1
	ResultInvalidUTF8       = 2
	ResultEmptyID           = 3
	ResultIDTooLong         = 4
	ResultInvalidInterval   = 5
	ResultInvalidCapacity   = 6
	ResultInvalidArgument   = 7
	ResultRegistryClosed    = 8
	ResultWrongMode         = 9
	ResultReentrantCall     = 10
	ResultTooManyTracks     = 11
	ResultThreadSpawnFailed = 12
	ResultPanic             = 13
	ResultForked            = 14
)
