/// What a column's name says about it. Names are split into lower-case words
/// (`customerName`, `customer-name` and `CUSTOMER_NAME` all give `customer`, `name`).
enum ColumnNameHint: Equatable {
    case directIdentifier(String)
    case quasiIdentifier(String)
    case sensitive(String)
    case entityKey
    case none

    static func words(of name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLower = false
        for character in name {
            if character.isLetter || character.isNumber {
                if character.isUppercase && previousWasLower && !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(Character(character.lowercased()))
                previousWasLower = character.isLowercase || character.isNumber
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousWasLower = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private static let directIdentifierWords: [String: String] = [
        "name": "a person's name", "firstname": "a person's name", "surname": "a person's name",
        "lastname": "a person's name", "fullname": "a person's name", "forename": "a person's name",
        "email": "an e-mail address", "mail": "an e-mail address", "phone": "a phone number",
        "telephone": "a phone number", "mobile": "a phone number", "tel": "a phone number",
        "ssn": "a national identification number", "nino": "a national identification number",
        "passport": "a passport number", "address": "a postal or network address",
        "street": "a street address", "iban": "a bank account", "license": "a licence number",
        "licence": "a licence number", "mpan": "a meter point number", "ip": "a network address",
    ]
    private static let directIdentifierPairs: [[String]: String] = [
        ["first", "name"]: "a person's name", ["last", "name"]: "a person's name",
        ["full", "name"]: "a person's name", ["e", "mail"]: "an e-mail address",
        ["account", "number"]: "an account number", ["credit", "card"]: "a card number",
        ["social", "security"]: "a national identification number",
        ["national", "insurance"]: "a national identification number",
    ]
    private static let quasiIdentifierWords: [String: String] = [
        "postcode": "postcode", "postal": "postcode", "zip": "postcode", "zipcode": "postcode",
        "birth": "birth date", "dob": "birth date", "yob": "birth year", "birthday": "birth date",
        "age": "age", "sex": "sex", "gender": "sex", "dwelling": "dwelling type", "occupants": "household size",
        "station": "station", "latitude": "coordinates", "longitude": "coordinates", "lat": "coordinates",
        "lon": "coordinates", "lng": "coordinates", "coordinates": "coordinates", "race": "ethnicity",
        "ethnicity": "ethnicity", "marital": "marital status", "education": "education",
        "occupation": "occupation", "workclass": "employment", "country": "country",
        "nationality": "nationality", "acorn": "socio-demographic group", "property": "dwelling type",
        "state": "place", "city": "place", "district": "place", "ward": "place", "zone": "place",
        "household": "household attribute",
    ]
    private static let sensitiveWords: [String: String] = [
        "salary": "income", "income": "income", "diagnosis": "health", "disease": "health",
        "health": "health", "religion": "religion", "kwh": "energy use", "energy": "energy use",
        "consumption": "energy use", "usage": "energy use",
    ]
    private static let entityWords: Set<String> = [
        "id", "meter", "household", "medallion", "device", "sensor", "account", "customerid",
    ]

    static func of(_ name: String) -> ColumnNameHint {
        let words = words(of: name)
        for index in words.indices.dropLast() {
            if let reason = directIdentifierPairs[[words[index], words[index + 1]]] {
                return .directIdentifier(reason)
            }
        }
        // An id column (`meter_id`, `LCLid`) names an entity, not a person's attribute.
        let last = words.last ?? ""
        if last == "id" || (last.hasSuffix("id") && last.count > 2 && !last.hasSuffix("aid"))
            || entityWords.contains(last)
        {
            if !(words.contains("name") || words.contains("email")) { return .entityKey }
        }
        for word in words { if let reason = directIdentifierWords[word] { return .directIdentifier(reason) } }
        for word in words { if let reason = quasiIdentifierWords[word] { return .quasiIdentifier(reason) } }
        for word in words { if let reason = sensitiveWords[word] { return .sensitive(reason) } }
        return .none
    }
}
