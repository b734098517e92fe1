import Testing
@testable import MediaCrypto
