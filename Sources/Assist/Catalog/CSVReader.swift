/// An RFC 4180 reader over bytes (https://www.rfc-editor.org/rfc/rfc4180#section-2): fields
/// separated by commas, records by CRLF or LF, a field in double quotes may hold commas, line
/// breaks and `""` for a quote. Lenient where it costs nothing: a lone LF ends a record, a
/// leading UTF-8 BOM is skipped, blank lines are skipped.
///
/// Each ``next()`` returns one record with the 1-based line it starts on, or the reason it is
/// malformed (a quote inside an unquoted field, text after a closing quote, a quote never
/// closed); a malformed record is skipped to the end of its line so the next one still reads.
struct CSVReader {
    /// One record: where it starts and its fields, or why it could not be read.
    struct Record {
        var line: Int
        var fields: Result<[String], CSVRecordError>
    }

    struct CSVRecordError: Error {
        var reason: String
    }

    private let bytes: [UInt8]
    private var position: Int
    private var line = 1

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    private static let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
    /// More fields than any catalog has (the columns plus 32 attributes and videos): a record
    /// past it is refused, so that one line of commas cannot allocate millions of empty strings
    /// (hardening review).
    static let maximumFields = 256

    /// The next record, or nil at the end of the input.
    mutating func next() -> Record? {
        // Skip blank lines.
        while position < bytes.count, bytes[position] == Self.lf || bytes[position] == Self.cr {
            if bytes[position] == Self.lf { line += 1 }
            position += 1
        }
        guard position < bytes.count else { return nil }
        let startLine = line
        var fields: [String] = []
        fields.reserveCapacity(16)
        while true {
            if fields.count > Self.maximumFields {
                skipLine()
                return Record(line: startLine, fields: .failure(CSVRecordError(reason: "more than \(Self.maximumFields) fields")))
            }
            // One field, starting at `position`.
            if position < bytes.count, bytes[position] == Self.quote {
                position += 1
                var value: [UInt8] = []
                var closed = false
                while position < bytes.count {
                    let b = bytes[position]
                    if b == Self.quote {
                        if position + 1 < bytes.count, bytes[position + 1] == Self.quote {
                            value.append(Self.quote)
                            position += 2
                            continue
                        }
                        position += 1
                        closed = true
                        break
                    }
                    if b == Self.lf { line += 1 }
                    value.append(b)
                    position += 1
                }
                guard closed else {
                    return Record(line: startLine, fields: .failure(CSVRecordError(reason: "a quoted field opened on line \(startLine) is never closed")))
                }
                fields.append(String(decoding: value, as: UTF8.self))
                // After a closing quote: a comma, the end of the record or the end of the input.
                if position >= bytes.count { break }
                let b = bytes[position]
                if b == Self.comma {
                    position += 1
                    continue
                }
                if b == Self.lf || (b == Self.cr && position + 1 < bytes.count && bytes[position + 1] == Self.lf) || (b == Self.cr && position + 1 == bytes.count) {
                    break
                }
                skipLine()
                return Record(line: startLine, fields: .failure(CSVRecordError(reason: "text after the closing quote of field \(fields.count)")))
            } else {
                let start = position
                while position < bytes.count {
                    let b = bytes[position]
                    if b == Self.comma || b == Self.lf || b == Self.cr { break }
                    if b == Self.quote {
                        skipLine()
                        return Record(line: startLine, fields: .failure(CSVRecordError(reason: "a quote inside unquoted field \(fields.count + 1)")))
                    }
                    position += 1
                }
                fields.append(String(decoding: bytes[start..<position], as: UTF8.self))
                if position < bytes.count, bytes[position] == Self.comma {
                    position += 1
                    if position == bytes.count { fields.append("") }
                    continue
                }
                if position < bytes.count, bytes[position] == Self.cr, position + 1 < bytes.count, bytes[position + 1] != Self.lf {
                    // A lone CR inside a record is not a line break in RFC 4180.
                    skipLine()
                    return Record(line: startLine, fields: .failure(CSVRecordError(reason: "a carriage return inside unquoted field \(fields.count)")))
                }
                break
            }
        }
        // End of the record: consume CRLF or LF.
        if position < bytes.count, bytes[position] == Self.cr { position += 1 }
        if position < bytes.count, bytes[position] == Self.lf {
            position += 1
            line += 1
        }
        return Record(line: startLine, fields: .success(fields))
    }

    /// Skips to just after the next LF (a malformed record ends at its physical line).
    private mutating func skipLine() {
        while position < bytes.count, bytes[position] != Self.lf { position += 1 }
        if position < bytes.count {
            position += 1
            line += 1
        }
    }
}
