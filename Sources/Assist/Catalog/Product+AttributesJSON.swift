extension Product {
    /// A product's attributes as every store keeps them: `{"colour":"red","size":"M"}`, keys
    /// sorted — a hand-written encoder because this runs for every product of an import
    /// (JSONEncoder per row costs more than the SQLite insert); the same bytes from every store.
    public static func attributesJSON(_ attributes: [String: String]) -> String {
        var out = "{"
        for (i, key) in attributes.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            escape(key, into: &out)
            out += ":"
            escape(attributes[key] ?? "", into: &out)
        }
        return out + "}"
    }

    private static func escape(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
