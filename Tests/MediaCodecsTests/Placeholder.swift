import Testing
@testable import MediaCodecs
