/// Common given names and surnames, and London-area postcode areas, for generated sample data.
/// Everyone in the sample is fictitious.
enum SampleNames {
    static let first = [
        "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Lily",
        "Arthur", "Freya", "Muhammad", "Florence", "Oscar", "Grace", "Charlie", "Emily", "Jacob", "Sophia",
        "Thomas", "Ella", "Henry", "Poppy", "William", "Evie", "James", "Alice", "Ethan", "Sienna", "Aisha",
        "Priya", "Kwame", "Chloe", "Daniel", "Ruby", "Samuel", "Zara",
    ]
    static let last = [
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
        "Clarke", "Khan", "Hughes", "Edwards", "Turner", "Hill", "O'Brien", "Cooper", "Ward", "Morris",
        "Okafor", "Martin", "Lewis", "Ahmed", "Baker", "Harris", "King", "Lee", "Murphy", "Scott",
    ]
    static let postcodeAreas = [
        "E", "EC", "N", "NW", "SE", "SW", "W", "WC", "BR", "CR", "DA", "EN", "HA", "IG",
        "KT", "RM", "SM", "TW", "UB",
    ]
}
