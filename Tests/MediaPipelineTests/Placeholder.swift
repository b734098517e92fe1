import Testing
@testable import MediaPipeline
