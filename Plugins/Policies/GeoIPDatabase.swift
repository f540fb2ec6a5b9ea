import CMaxMindDB
import Foundation

/// A MaxMind GeoLite2 / GeoIP2 country or city database (`.mmdb`), read through libmaxminddb.
/// Opened (memory-mapped) once per config load; lookups are safe from any thread.
final class GeoIPDatabase: @unchecked Sendable {
    private var database = MMDB_s()

    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws {
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), &database)
        guard status == MMDB_SUCCESS else {
            throw OpenError(description: String(cString: MMDB_strerror(status)))
        }
    }

    deinit { MMDB_close(&database) }

    /// The ISO country code of an address (`country.iso_code`, else `registered_country.iso_code`);
    /// nil when the address is not in the database.
    func country(of address: String) -> String? {
        var addressError: Int32 = 0
        var databaseError: Int32 = 0
        var result = MMDB_lookup_string(&database, address, &addressError, &databaseError)
        guard addressError == 0, databaseError == MMDB_SUCCESS, result.found_entry else { return nil }
        for path in [["country", "iso_code"], ["registered_country", "iso_code"]] {
            if let code = string(in: &result.entry, path: path) { return code }
        }
        return nil
    }

    private func string(in entry: inout MMDB_entry_s, path: [String]) -> String? {
        var data = MMDB_entry_data_s()
        let pointers = path.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        let status = pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            MMDB_aget_value(&entry, &data, buffer.baseAddress)
        }
        guard status == MMDB_SUCCESS, data.has_data, data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
            let bytes = data.utf8_string
        else { return nil }
        return String(
            decoding: UnsafeRawBufferPointer(start: bytes, count: Int(data.data_size)),
            as: UTF8.self
        )
    }
}
