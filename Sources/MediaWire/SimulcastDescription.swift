extension SessionDescription.Media {
    /// The RIDs of the encodings this section offers to send as simulcast
    /// ([RFC 8853 §5.1](https://www.rfc-editor.org/rfc/rfc8853#section-5.1)): the `send` list of
    /// `a=simulcast`, in its order, keeping of each stream its first alternative and only RIDs that
    /// an `a=rid:<id> send` line declares ([RFC 8851 §4](https://www.rfc-editor.org/rfc/rfc8851#section-4))
    /// and that are valid (``RTPStreamID/isValid(_:)``). A paused (`~`) first alternative leaves
    /// its stream out; a RID named twice counts once. Empty when the section offers no simulcast.
    /// At most `limit` are read (an offer may list hundreds).
    public func simulcastSendRIDs(limit: Int = 16) -> [String] {
        guard let simulcast = value("simulcast") else { return [] }
        let declared = Set(
            values("rid").compactMap { v -> Substring? in
                let parts = v.split(separator: " ", omittingEmptySubsequences: true)
                return parts.count >= 2 && parts[1] == "send" ? parts[0] : nil
            })
        let tokens = simulcast.split(separator: " ", omittingEmptySubsequences: true)
        guard let i = tokens.firstIndex(of: "send"), i + 1 < tokens.count else { return [] }
        var out: [String] = []
        for stream in tokens[i + 1].split(separator: ";") where out.count < limit {
            guard let first = stream.split(separator: ",").first, !first.hasPrefix("~") else { continue }
            let rid = String(first)
            if RTPStreamID.isValid(rid), declared.contains(first), !out.contains(rid) { out.append(rid) }
        }
        return out
    }
}
