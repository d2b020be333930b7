package providers_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/providers"
)

func ExampleClaims_Map() {
	claims := providers.Claims{
		ID:       []string{"id"},
		Username: []string{"login"},
		Picture:  []string{"avatar_url"},
		// CLAIM_ATTRIBUTES=Company=company,Plan=plan.name
		Attributes: []providers.Attribute{
			{Name: "Company", Paths: []string{"company"}},
			{Name: "Plan", Paths: []string{"plan.name"}},
		},
		// CLAIM_VALUES=Plan:Paid=pro,Paid=team
		Values: map[string]map[string]string{"plan": {"pro": "Paid", "team": "Paid"}},
	}.WithDefaults()

	// A GitHub /user answer. The id is a JSON number: decode with UseNumber.
	dec := json.NewDecoder(strings.NewReader(`{
		"login": "octocat", "id": 583231, "name": "The Octocat",
		"avatar_url": "https://avatars.githubusercontent.com/u/583231",
		"company": "@github", "plan": {"name": "pro"}, "email": null}`))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		fmt.Println(err)
		return
	}

	id, err := claims.Map(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("id:", id.ID)
	fmt.Println("username:", id.Username)
	fmt.Println("name:", id.Name)
	fmt.Println("email verified known:", id.EmailVerified != nil)
	fmt.Println("company:", id.Attributes["Company"])
	fmt.Println("plan:", id.Attributes["Plan"])
	// Output:
	// id: 583231
	// username: octocat
	// name: The Octocat
	// email verified known: false
	// company: @github
	// plan: Paid
}

func ExampleResolve() {
	pkce := false
	r, err := providers.Resolve(providers.Settings{
		ID: "gh", Prefix: "PORTCULLIS_GH_", Preset: "github",
		ClientID: "id", ClientSecret: "secret", PKCE: &pkce,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The preset's value, the operator's, the generic default:
	fmt.Println("AUTH_URL", r.AuthURL, r.FromPreset["AUTH_URL"])
	fmt.Println("PKCE", *r.PKCE, r.FromPreset["PKCE"])
	fmt.Println("TOKEN_METHOD", r.TokenMethod, r.FromPreset["TOKEN_METHOD"])

	_, err = providers.Resolve(providers.Settings{Prefix: "PORTCULLIS_SSO_", Preset: "keycloak", ClientID: "id"})
	fmt.Println(err)
	// Output:
	// AUTH_URL https://github.com/login/oauth/authorize true
	// PKCE false false
	// TOKEN_METHOD POST false
	// PORTCULLIS_SSO_ISSUER_URL: required by the keycloak preset
}
