import Testing
@testable import ShowroomServer
