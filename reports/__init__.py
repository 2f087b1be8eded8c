"""Report helpers (Allure environment, summaries); generated output lives beside them."""
