import Testing
@testable import MediaWire
