import Crypto
import DeidCSV
import DeidEngine
import Foundation
import Synchronization

/// A secret key's bytes. Never printed: `description` shows only the key id.
package struct SecretKey: Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// A fingerprint that names the key in manifests without revealing it: the first 8 bytes
    /// of HMAC-SHA256(key, "deid key id"), in hex.
    package var id: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("deid key id".utf8), using: SymmetricKey(data: bytes))
        return mac.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    package var description: String { "SecretKey(id: \(id))" }

    /// The key derived for one release (HKDF-SHA256 with the release id as info), so that
    /// pseudonyms of two releases cannot be joined.
    package func derived(forRelease releaseID: String, purpose: String) -> SecretKey {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: bytes), salt: Array("deid per-release".utf8),
            info: Array("\(purpose)/\(releaseID)".utf8), outputByteCount: 32)
        return SecretKey(bytes: key.bytes)
    }
}

extension SecretKey {
    /// The key derived for one period of a rotating pseudonym (HKDF-SHA256 with the period as
    /// info): the pseudonyms of two periods cannot be joined without the key.
    package func derived(forPeriod period: String, purpose: String) -> SecretKey {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: bytes), salt: Array("deid rotation".utf8),
            info: Array("\(purpose)/\(period)".utf8), outputByteCount: 32)
        return SecretKey(bytes: key.bytes)
    }
}

/// Why a key could not be used; the message names the source, never the key.
public struct KeyError: ReportedError, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public var problems: [ReportedProblem] { [ReportedProblem(message)] }
}

/// Reads keys from the environment or from files.
package enum KeyResolver {
    /// The fewest bytes a key may have.
    package static let minimumBytes = 32

    /// Key files read so far in this process: each is read once (the policy check and the plan
    /// both resolve a key, and a key handed over through a pipe can be read only once).
    private static let files = Mutex<[String: [UInt8]]>([:])

    /// The key `reference` names. Files must not be readable by group or others (mode 0600 or
    /// stricter); a final line break in a file is not part of the key.
    package static func resolve(_ reference: KeyReference, environment: [String: String]) throws -> SecretKey {
        let bytes: [UInt8]
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw KeyError(message: "the environment variable \(name) holding the key is not set")
            }
            bytes = Array(value.utf8)
        case .file(let path):
            if let known = files.withLock({ $0[path] }) {
                bytes = known
                break
            }
            guard let status = FileStatus.of(path: path) else {
                throw KeyError(message: "cannot read the key file \(path)")
            }
            guard status.permissions & 0o077 == 0 else {
                throw KeyError(
                    message:
                        "the key file \(path) is readable by others (mode \(String(status.permissions & 0o777, radix: 8))); chmod 600 it"
                )
            }
            guard var data = FileManager.default.contents(atPath: path).map(Array.init) else {
                throw KeyError(message: "cannot read the key file \(path)")
            }
            if data.last == 0x0A { data.removeLast() }
            if data.last == 0x0D { data.removeLast() }
            bytes = data
            files.withLock { $0[path] = data }
        }
        guard bytes.count >= minimumBytes else {
            throw KeyError(
                message: "the key from \(reference) has \(bytes.count) bytes; at least \(minimumBytes) are needed")
        }
        return SecretKey(bytes: bytes)
    }
}
