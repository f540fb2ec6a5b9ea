/// Header values read on every request, without Foundation's Unicode-aware string methods
/// (which bridge through NSString and cost a noticeable share of a request): HTTP's optional
/// whitespace is a space or a tab, and the words compared are ASCII.
extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    public var trimmingHTTPWhitespace: String {
        let text = String(self)
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
        if first == bytes.startIndex, bytes.index(after: last) == bytes.endIndex { return text }
        return String(text[first...last])
    }

    /// Equal to the ASCII word `word`, ignoring the case of ASCII letters.
    public func equalsIgnoringASCIICase(_ word: String) -> Bool {
        utf8.elementsEqual(word.utf8) { a, b in
            let lower = { (c: UInt8) in c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
            return lower(a) == lower(b)
        }
    }
}
