import Foundation

/// Records the PostgreSQL stores keep as JSON text (consultations, departments, agents, scripts,
/// flows, …): keys sorted and dates as Foundation keeps them (seconds since 2001), so they are the
/// same bytes as SQLite's and read back to the same instant.
enum RecordJSON {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    static func text(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
    static func value<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONDecoder().decode(type, from: Data(text.utf8)) }
}
