/* JSON Schema -> GBNF without a model: every schema converts to a grammar
 * that parses; JSON texts that the schema allows are matched and texts it
 * forbids are not (and the small validator agrees on each, so the table
 * itself is checked); unsupported keywords are refused by name. */
#include "llamac.h"
#include "schema_validate.h"
#include "test_util.h"

typedef struct schema_case {
    const char *name;
    const char *schema;
    const char *pass[8];
    const char *fail[8];
} schema_case;

static const schema_case cases[] = {
    {"json_object mode", "{\"type\":\"object\"}",
     {"{}", "{\"a\": 1}", "{\"a\":{\"b\":[1,\"x\",null]}}"}, {"[]", "1", "\"s\"", "{\"a\"}"}},
    {"any value", "{}", {"1", "\"x\"", "[true]", "{\"k\":null}"}, {"tru", "[1,]"}},
    {"required and optional",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":5},"
     "\"age\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\"]}",
     {"{\"name\":\"bob\"}", "{\"name\": \"bob\", \"age\": 42}", "{\"name\":\"x\",\"ok\":true}",
      "{\"name\":\"x\",\"age\":-1,\"ok\":false}"},
     {"{}", "{\"age\":1}", "{\"name\":\"toolong\"}", "{\"name\":\"x\",\"age\":1.5}", "{\"name\":\"x\",\"zz\":1}",
      "{\"name\":1}"}},
    {"only optional",
     "{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"null\"}}}",
     {"{}", "{\"a\":1}", "{\"b\":null}", "{\"a\":1,\"b\":null}"}, {"{\"a\":null}", "{,\"b\":null}", "{\"c\":1}"}},
    {"additional properties schema",
     "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},\"additionalProperties\":{\"type\":\"string\"}}",
     {"{}", "{\"id\":1}", "{\"id\":1,\"x\":\"y\"}", "{\"x\":\"y\",\"z\":\"w\"}", "{\"idx\":\"a\",\"i\":\"b\"}"},
     {"{\"x\":1}", "{\"id\":\"s\"}", "{\"id\":1,\"id\":\"s\"}"}},
    {"array bounds", "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":3}",
     {"[1]", "[1, 2, 3]"}, {"[]", "[1,2,3,4]", "[\"a\"]"}},
    {"enum and const", "{\"anyOf\":[{\"enum\":[\"red\",\"green\",1,null]},{\"const\":{\"k\":[true]}}]}",
     {"\"red\"", "1", "null", "{\"k\":[true]}"}, {"\"blue\"", "2", "{\"k\":[false]}"}},
    {"type list", "{\"type\":[\"string\",\"null\"],\"minLength\":2,\"maxLength\":3}",
     {"\"ab\"", "\"abc\"", "null", "\"\\u00e9\\n\""}, {"\"a\"", "\"abcd\"", "1"}},
    {"formats",
     "{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"},"
     "\"t\":{\"type\":\"string\",\"format\":\"time\"},\"dt\":{\"type\":\"string\",\"format\":\"date-time\"},"
     "\"u\":{\"type\":\"string\",\"format\":\"uuid\"}},\"required\":[\"d\",\"t\",\"dt\",\"u\"]}",
     {"{\"d\":\"2024-07-26\",\"t\":\"12:30:00Z\",\"dt\":\"2024-01-31T23:59:59.5+02:00\","
      "\"u\":\"123e4567-e89b-12d3-a456-426614174000\"}"},
     {"{\"d\":\"2024-13-01\",\"t\":\"12:30:00Z\",\"dt\":\"2024-01-31T23:59:59Z\",\"u\":\"123e4567-e89b-12d3-a456-426614174000\"}",
      "{\"d\":\"2024-01-01\",\"t\":\"24:00:00Z\",\"dt\":\"2024-01-31T23:59:59Z\",\"u\":\"123e4567-e89b-12d3-a456-426614174000\"}",
      "{\"d\":\"2024-01-01\",\"t\":\"12:30:00Z\",\"dt\":\"2024-01-31T23:59:59Z\",\"u\":\"123e4567e89b12d3a456426614174000\"}"}},
    {"refs and recursion",
     "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"},"
     "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"},\"maxItems\":2}},\"required\":[\"v\"]}},"
     "\"$ref\":\"#/$defs/node\"}",
     {"{\"v\":1}", "{\"v\":1.5e3,\"kids\":[{\"v\":2},{\"v\":-3,\"kids\":[]}]}"},
     {"{\"kids\":[]}", "{\"v\":1,\"kids\":[{\"v\":1},{\"v\":2},{\"v\":3}]}"}},
};

static bool matches(llamac_grammar *g, const char *s) {
    llamac_grammar_reset(g);
    return llamac_grammar_accept_text(g, s, strlen(s)) && llamac_grammar_can_end(g);
}

static void test_cases(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const schema_case *c = &cases[i];
        llamac_error err = {{0}};
        char *gbnf = llamac_json_schema_to_gbnf(c->schema, &err);
        CHECKF(gbnf != NULL, "%s: %s", c->name, err.msg);
        if (!gbnf) continue;
        llamac_grammar *g = llamac_grammar_create(NULL, gbnf, NULL, &err);
        CHECKF(g != NULL, "%s: %s\n%s", c->name, err.msg, gbnf);
        cJSON *schema = cJSON_Parse(c->schema);
        for (int k = 0; g && k < 8 && c->pass[k]; k++) {
            cJSON *v = cJSON_Parse(c->pass[k]);
            CHECKF(v && sv_valid(schema, schema, v), "%s: validator refuses %s", c->name, c->pass[k]);
            CHECKF(matches(g, c->pass[k]), "%s: grammar refuses %s\n%s", c->name, c->pass[k], gbnf);
            cJSON_Delete(v);
        }
        for (int k = 0; g && k < 8 && c->fail[k]; k++) {
            cJSON *v = cJSON_Parse(c->fail[k]);
            CHECKF(!v || !sv_valid(schema, schema, v), "%s: validator accepts %s", c->name, c->fail[k]);
            CHECKF(!matches(g, c->fail[k]), "%s: grammar accepts %s\n%s", c->name, c->fail[k], gbnf);
            cJSON_Delete(v);
        }
        cJSON_Delete(schema);
        llamac_grammar_free(g);
        free(gbnf);
    }
}

static void test_refused(void) {
    static const struct {
        const char *schema, *message;
    } bad[] = {
        {"{\"type\":\"string\",\"pattern\":\"^a$\"}", "JSON schema at #: unsupported JSON Schema keyword 'pattern'"},
        {"{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":0}}}",
         "JSON schema at #/properties/n: unsupported JSON Schema keyword 'minimum'"},
        {"{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true}", "unsupported JSON Schema keyword 'uniqueItems'"},
        {"{\"allOf\":[{}]}", "unsupported JSON Schema keyword 'allOf'"},
        {"{\"type\":\"string\",\"format\":\"email\"}", "unsupported format 'email'"},
        {"{\"$ref\":\"https://example.com/s.json\"}", "$ref 'https://example.com/s.json' is not supported"},
        {"{\"$ref\":\"#/$defs/missing\"}", "$ref '#/$defs/missing' points at nothing"},
        {"{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}", "'items' as an array (tuples) is not supported"},
        {"{\"type\":\"decimal\"}", "unknown type 'decimal'"},
        {"{\"anyOf\":[{}],\"properties\":{}}", "'anyOf' together with 'properties' is not supported"},
        {"{\"type\":\"object\",\"required\":[\"x\"]}", "required key 'x' is not in 'properties'"},
        {"{\"type\":", "not valid JSON"},
        {"false", "the schema 'false' matches nothing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        llamac_error err = {{0}};
        char *gbnf = llamac_json_schema_to_gbnf(bad[i].schema, &err);
        CHECKF(gbnf == NULL, "accepted %s", bad[i].schema);
        CHECKF(strstr(err.msg, bad[i].message) != NULL, "for %s\n  got      '%s'\n  expected '%s'", bad[i].schema,
               err.msg, bad[i].message);
        free(gbnf);
    }
}

int main(void) {
    test_cases();
    test_refused();
    return TEST_SUMMARY("test_grammar_schema");
}
